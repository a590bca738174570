"""The commands and code in the docs run as written."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _blocks(name, lang):
    return re.findall(rf"```{lang}\n(.*?)```", (DOCS / name).read_text(), re.S)


@pytest.mark.parametrize("index", range(len(_blocks("getting-started.md", "python"))))
def test_getting_started_python_blocks_run(index, tmp_path):
    code = _blocks("getting-started.md", "python")[index]
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr


def test_getting_started_cli_commands_run(tmp_path):
    root = DOCS.parent
    commands = [line for block in _blocks("getting-started.md", "sh") for line in block.splitlines()
                if line.startswith(".venv/bin/ember ")]
    assert commands
    (tmp_path / "examples").mkdir()
    config = (root / "examples/train_digits.toml").read_text().replace("epochs = 30", "epochs = 3")
    (tmp_path / "examples/train_digits.toml").write_text(config)
    for line in commands:
        args = line.split()[1:]   # the same arguments, run with this interpreter's ember
        r = subprocess.run([sys.executable, "-m", "ember.cli", *args, *(["--quiet"] if args[0] == "train" else [])],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"{line}\n{r.stderr}"
