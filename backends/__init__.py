"""Built-in backends; each folder registers through the "ember" entry points."""
