"""How the outside reaches dispatch: NATS subscriptions, gRPC, the command line."""
