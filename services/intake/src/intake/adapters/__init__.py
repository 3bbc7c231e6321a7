"""Tables, repository and proto translation: everything that touches I/O formats."""
