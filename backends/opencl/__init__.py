"""The OpenCL backend: every primitive a kernel in kernels/*.cl, built once and cached."""
