"""The contract every linli service shares: generated v1 stubs, settings, domain errors and gRPC serving."""
