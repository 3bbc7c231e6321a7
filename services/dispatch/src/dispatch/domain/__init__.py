"""Dispatch rules: departments, the responsibility matrix and routing. Pure."""
