"""The megacity-day benchmark (issue 10): a generated city day replayed at any
speed against the whole stack, with departments, inspectors and supervisors
acting on it. See `python -m bench.megacity --help` and docs/performance.md."""
