"""HTTP routers of the console: pages, REST API, Open311, live events."""
