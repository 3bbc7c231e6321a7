"""Storage, reference-data files and integration-event translation."""
