"""gRPC API, event subscriptions and the process entry point."""
