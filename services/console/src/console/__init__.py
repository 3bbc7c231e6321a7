"""Console: the web UI and REST API over the services (server-rendered)."""
