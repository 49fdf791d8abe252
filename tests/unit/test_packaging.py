"""What ships: the layer installs exactly the project's runtime dependencies, locked with hashes; no dev code
in the layer."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "layers/common/requirements.txt"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def _lock() -> tuple[dict[str, str], dict[str, int], set[str]]:
    """{name: pinned version}, {name: number of hashes}, names the lock says come from pyproject.toml."""
    pins: dict[str, str] = {}
    hashes: dict[str, int] = {}
    direct: set[str] = set()
    current = ""
    for line in LOCK.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = match.group(2)
            hashes[current] = 0
        elif line.strip().startswith("--hash=sha256:"):
            hashes[current] += 1
        elif "inventory-sync (pyproject.toml)" in line:
            direct.add(current)
        elif line.strip() and not line.lstrip().startswith("#"):
            raise AssertionError(f"unexpected line in the lock: {line!r}")
    return pins, hashes, direct


def test_the_layer_lock_pins_every_runtime_dependency_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(spec) for spec in project["dependencies"]]
    pins, hashes, direct = _lock()
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in the lock: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"the lock pins {name}=={pins[name]}, outside pyproject.toml's {requirement}: run `make lock`")
        for extra in requirement.extras:  # psycopg[binary] → psycopg-binary, locked by itself
            assert canonicalize_name(f"{name}-{extra}") in pins, f"{requirement}: the extra is not locked"
    # nothing locked as a direct dependency that pyproject.toml no longer asks for
    assert direct == {canonicalize_name(r.name) for r in wanted}, "run `make lock`"
    assert all(count >= 1 for count in hashes.values()), [n for n, c in hashes.items() if not c]
    assert "boto3" in pins  # sam local's images lack it; Lambda's runtime copy is not ours to pin


def test_layer_holds_no_dev_tooling() -> None:
    layer_files = {p.relative_to(ROOT / "layers/common").as_posix() for p in (ROOT / "layers/common").rglob("*.py")}
    for path in layer_files:
        text = (ROOT / "layers/common" / path).read_text()
        for forbidden in ("invsync_dev", "import moto", "import pytest", "pgserver"):
            assert forbidden not in text, f"{path} imports {forbidden}"
