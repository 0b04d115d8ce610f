"""Tickets: the model, its storage, the flows that change it and the gRPC and HTTP surfaces."""
