"""Handlers: orchestrate domain rules inside a unit of work."""
