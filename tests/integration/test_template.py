"""The SAM template is valid and lints clean (sam validate --lint)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import sam

ROOT = Path(__file__).resolve().parents[2]


def test_sam_validate_lint_passes() -> None:
    result = subprocess.run([sam.sam(), "validate", "--lint", "--template-file", str(ROOT / "template.yaml")],
                            cwd=ROOT, env=sam.env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


@pytest.mark.slow
def test_sam_build_succeeds(tmp_path: Path) -> None:
    if sam.python312_dir() is None:
        pytest.skip("sam build needs a python3.12 interpreter (the Lambda runtime); none on this machine")
    result = subprocess.run([sam.sam(), "build", "--build-dir", str(tmp_path / "build"), "--template-file",
                             str(ROOT / "template.yaml")], cwd=ROOT, env=sam.env(), capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    layer = tmp_path / "build" / "CommonLayer" / "python"
    assert (layer / "inventory_sync" / "db" / "migrations" / "0001_initial.sql").exists()
    for package in ("boto3", "psycopg", "aws_lambda_powertools", "pydantic_settings", "psycopg_pool"):
        assert (layer / package).exists(), package
    assert not (layer / "invsync_dev").exists() and not (layer / "moto").exists()
    for function in ("DispatchFunction", "RunSyncFunction", "FinalizeFunction", "MigrateFunction"):
        assert (tmp_path / "build" / function / "app.py").exists()
    # installed from the hash-locked requirements: exactly the pinned versions
    pinned = dict(line.split(" ")[0].split("==") for line in
                  (ROOT / "layers/common/requirements.txt").read_text().splitlines() if "==" in line)
    for package, version in pinned.items():
        dist = package.replace("-", "_").lower()
        assert any(p.name.lower().startswith(f"{dist}-{version}.dist-info") for p in layer.iterdir()), package
