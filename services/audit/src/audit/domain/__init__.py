"""Audit rules as plain data and functions: no I/O, no protobuf, no database."""
