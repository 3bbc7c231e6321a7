"""Benchmarks: they print figures and assert nothing (docs/performance.md)."""
