"""What ships: the layer's requirements match the project's runtime deps; no dev code in the layer."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _names(lines: list[str]) -> set[str]:
    return {line.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip().lower()
            for line in lines if line.strip() and not line.startswith("#")}


def test_layer_requirements_match_runtime_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    layer = (ROOT / "layers/common/requirements.txt").read_text().splitlines()
    assert sorted(layer_line for layer_line in layer if layer_line and not layer_line.startswith("#")) == sorted(
        project["dependencies"])
    assert "boto3" in _names(layer)


def test_layer_holds_no_dev_tooling() -> None:
    layer_files = {p.relative_to(ROOT / "layers/common").as_posix() for p in (ROOT / "layers/common").rglob("*.py")}
    for path in layer_files:
        text = (ROOT / "layers/common" / path).read_text()
        for forbidden in ("invsync_dev", "import moto", "import pytest", "pgserver"):
            assert forbidden not in text, f"{path} imports {forbidden}"
