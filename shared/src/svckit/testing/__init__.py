"""Test fixtures that start real servers on loopback and capture spans."""
