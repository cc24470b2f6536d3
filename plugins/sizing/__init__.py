"""Built-in position sizers."""
