"""ember's own tests; ember.testing (the conformance suite) loads from pyproject's addopts."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run_python():
    """Run Python code in a fresh interpreter (for import-time and environment behaviour)."""
    def run(code, env=None, extra_path=None):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("EMBER_")}
        full_env.update(env or {})
        if extra_path:
            full_env["PYTHONPATH"] = os.pathsep.join([str(extra_path), full_env.get("PYTHONPATH", "")])
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=full_env, timeout=120)
    return run
