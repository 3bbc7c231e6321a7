"""Pure rules of a case: its data, how it is filed, how its state may move."""
