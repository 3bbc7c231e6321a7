"""Use cases: routing, returns and arbitration, stage clocks, the managed catalogue, queries."""
