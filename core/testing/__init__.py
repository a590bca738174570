"""ember's conformance suite, as a pytest plugin.

    pytest -p ember.testing                   # every registered backend
    pytest -p ember.testing --backend opencl  # repeatable

Loading the plugin adds the suite's own test modules, and those that plugins
contribute through the ``ember_conformance_modules`` hook, to the collection.
Each test taking the ``backend`` fixture runs once per selected backend; a
backend that is not available here is skipped with its reason.
"""

from .checks import (assert_close, gradcheck, gradgradcheck, tolerance,  # noqa: F401
                     without_fast_paths)
from .plugin import (backend, pytest_addoption, pytest_collection_modifyitems,  # noqa: F401
                     pytest_configure, pytest_generate_tests, pytest_pycollect_makemodule,
                     pytest_report_header)
