"""Cold-start import time of each function's module (fresh interpreter each time) next to a minimal
Powertools handler measured the same way in the same run. Median of N runs after one warm-up (which
compiles the .pyc files, as the deployment package's are).

Both run against a layer-like folder holding only layers/common/requirements.txt and inventory_sync (not
the dev virtualenv, whose extra packages — awscrt among them — change what boto3 imports)."""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

MINIMAL = """
from aws_lambda_powertools import Logger
logger = Logger()

@logger.inject_lambda_context
def handler(event, context):
    return {}
"""

PROBE = """
import importlib.util, sys, time
t = time.perf_counter()
{body}
print(time.perf_counter() - t)
"""


def _load(path: Path) -> str:
    return (f"spec = importlib.util.spec_from_file_location('app', {str(path)!r})\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)")


LAYER = ROOT / ".bench_layer"


def build_layer() -> Path:
    import shutil

    if not (LAYER / "boto3").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(LAYER), "-r",
                        str(ROOT / "layers/common/requirements.txt")], check=True)
    shutil.rmtree(LAYER / "inventory_sync", ignore_errors=True)
    shutil.copytree(ROOT / "layers/common/inventory_sync", LAYER / "inventory_sync")
    return LAYER


def _measure(body: str, runs: int) -> float:
    samples = []
    for i in range(runs + 1):
        out = subprocess.run([sys.executable, "-S", "-c", PROBE.format(body=body)], capture_output=True, text=True,
                             check=True, cwd=ROOT, env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1",
                                                        "PYTHONPATH": str(LAYER), "PYTHONNOUSERSITE": "1"})
        if i:  # the first run compiles the .pyc files
            samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


# What each function cannot do without, imported alone beside the minimal handler: the database driver and its
# pool, pydantic (settings and models) and the Powertools utility the function is built on. The distance from
# this floor to the function is what the function's own code costs at load.
FLOORS = {
    "dispatch": "import psycopg, psycopg_pool, pydantic_settings\n"
                "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver",
    "run_sync": "import psycopg, psycopg_pool, pydantic_settings\n"
                "from aws_lambda_powertools.utilities.batch import BatchProcessor",
    "finalize": "import psycopg, psycopg_pool, pydantic_settings\n"
                "from aws_lambda_powertools.utilities.batch import BatchProcessor",
}


def run(runs: int = 7) -> dict[str, Any]:
    build_layer()
    minimal_file = ROOT / ".bench_minimal_handler.py"
    minimal_file.write_text(MINIMAL)
    try:
        baseline = _measure(_load(minimal_file), runs)
    finally:
        minimal_file.unlink()
    results: dict[str, Any] = {"minimal_powertools_ms": baseline * 1000}
    print(f"cold import, minimal Powertools handler: {baseline * 1000:.0f} ms (median of {runs})")
    minimal_import = "from aws_lambda_powertools import Logger\nLogger()\n"
    for name in ("dispatch", "run_sync", "finalize"):
        t = _measure(_load(ROOT / "functions" / name / "app.py"), runs)
        floor = _measure(minimal_import + FLOORS[name], runs)
        results[f"{name}_ms"] = t * 1000
        results[f"{name}_floor_ms"] = floor * 1000
        print(f"cold import, {name}: {t * 1000:.0f} ms ({t / baseline:.1f}x the minimal handler); the libraries it "
              f"cannot do without, alone: {floor * 1000:.0f} ms ({floor / baseline:.1f}x); the function is "
              f"{t / floor:.2f}x that floor")
    return results


if __name__ == "__main__":
    run()
