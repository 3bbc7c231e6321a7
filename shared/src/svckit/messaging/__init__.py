"""CloudEvents over NATS JetStream: subjects, envelope, codec, publisher, consumer."""
