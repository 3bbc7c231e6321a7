"""CityOps audit service: the append-only case ledger, verification (核查) and closure (结案)."""
