"""The SAM template is valid and lints clean (sam validate --lint)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _sam() -> str:
    found = shutil.which("sam") or str(Path(sys.executable).parent / "sam")
    if not Path(found).exists():
        pytest.fail("sam CLI missing: it is part of the dev extra (pip install -e '.[dev]')")
    return found


def test_sam_validate_lint_passes() -> None:
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "SAM_CLI_TELEMETRY": "0"}
    result = subprocess.run([_sam(), "validate", "--lint", "--template-file", str(ROOT / "template.yaml")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr
