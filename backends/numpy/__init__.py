"""The NumPy backend: the reference CPU backend, written against an array module."""
