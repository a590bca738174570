"""A third-party backend as another package would write it: here a NumPy twin (NumPy's
primitives, quiet where NumPy would warn, as the backend contract asks) that says it is
unavailable unless TWIN_AVAILABLE is set."""

import os

from ember.backends.numpy.backend import NumpyBackend
from ember.hookspecs import hookimpl


class TwinBackend(NumpyBackend):
    name = "twin"

    @classmethod
    def availability(cls):
        if os.environ.get("TWIN_AVAILABLE"):
            return True, ""
        return False, "TWIN_AVAILABLE is not set"


@hookimpl
def ember_backends():
    return {"twin": TwinBackend}
