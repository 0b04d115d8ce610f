"""Clients of linli's gRPC services, one per service (retrieval.py, routing.py, health.py), all through calls.py's
interceptor: the caller's deadline is passed on and a failed call becomes a LinliError.

Nothing is imported here, so that linli/grpc_serving.py can use calls.py without importing the clients."""
