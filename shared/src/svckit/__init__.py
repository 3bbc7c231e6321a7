"""svckit: what every CityOps service needs, written once.

Settings, logging, tracing, the database and unit of work, the transactional
outbox and inbox, CloudEvents over NATS JetStream, gRPC server and client, and
the test fixtures that start real servers.
"""
