"""The SAM CLI from the dev extra, and the python3.12 `sam build` needs (the functions' runtime)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def sam() -> str:
    found = shutil.which("sam") or str(Path(sys.executable).parent / "sam")
    if not Path(found).exists():
        pytest.fail("sam CLI missing: it is part of the dev extra (pip install -e '.[dev]')")
    return found


def python312_dir() -> str | None:
    """A directory holding a working python3.12 (a pyenv shim without that version installed is not one)."""
    candidates = [shutil.which("python3.12") or ""] + sorted(glob.glob("/root/.pyenv/versions/3.12*/bin/python3.12"))
    candidates += sorted(glob.glob("/usr/local/bin/python3.12")) + sorted(glob.glob("/usr/bin/python3.12"))
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", "import sys"], capture_output=True).returncode == 0:
            return str(Path(candidate).parent)
    return None


def env(**extra: str) -> dict[str, str]:
    """An environment for sam: no telemetry, python3.12 first on PATH."""
    result = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "SAM_CLI_TELEMETRY": "0", **extra}
    py312 = python312_dir()
    if py312:
        result["PATH"] = py312 + os.pathsep + result["PATH"]
    return result
