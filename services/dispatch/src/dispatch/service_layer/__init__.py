"""Use cases: handle filed cases, answer routing and dispatch queries."""
