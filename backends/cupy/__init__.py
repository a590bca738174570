"""The CuPy backend: CUDA through CuPy, sharing the NumPy backend's array-module code."""
