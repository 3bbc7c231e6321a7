"""Source adapters: one module per source format, each translating a vendor's
payload into the service's commands. Vendor payloads stop here."""
