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


def _python312_dir() -> str | None:
    """A directory holding a working python3.12 (sam build needs the function runtime's interpreter)."""
    import glob

    candidates = [shutil.which("python3.12") or ""] + sorted(glob.glob("/root/.pyenv/versions/3.12*/bin/python3.12"))
    candidates += sorted(glob.glob("/usr/local/bin/python3.12")) + sorted(glob.glob("/usr/bin/python3.12"))
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", "import sys"], capture_output=True).returncode == 0:
            return str(Path(candidate).parent)
    return None


@pytest.mark.slow
def test_sam_build_succeeds(tmp_path: Path) -> None:
    py312 = _python312_dir()
    if py312 is None:
        pytest.skip("sam build needs a python3.12 interpreter (the Lambda runtime); none on this machine")
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "SAM_CLI_TELEMETRY": "0",
           "PATH": py312 + os.pathsep + os.environ["PATH"]}
    result = subprocess.run([_sam(), "build", "--build-dir", str(tmp_path / "build"), "--template-file",
                             str(ROOT / "template.yaml")], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    layer = tmp_path / "build" / "CommonLayer" / "python"
    assert (layer / "inventory_sync" / "db" / "migrations" / "0001_initial.sql").exists()
    for package in ("boto3", "psycopg", "aws_lambda_powertools", "pydantic_settings", "psycopg_pool"):
        assert (layer / package).exists(), package
    assert not (layer / "invsync_dev").exists() and not (layer / "moto").exists()
    for function in ("DispatchFunction", "RunSyncFunction", "FinalizeFunction"):
        assert (tmp_path / "build" / function / "app.py").exists()
