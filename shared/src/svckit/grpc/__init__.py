"""gRPC aio server and client with health, reflection, tracing and error mapping."""
