"""Cold-start import time of each function's module (fresh interpreter each time) next to a minimal
Powertools handler measured the same way in the same run. Median of N runs after one warm-up (which
compiles the .pyc files, as the deployment package's are).

Both run against a layer-like folder holding only layers/common/requirements.txt and inventory_sync (not
the dev virtualenv, whose extra packages — awscrt among them — change what boto3 imports), installed for and
run by the functions' runtime, Python 3.12, where it is found (COLD_START_PYTHON=/path/to/python names it;
else `python3.12` on PATH; else the interpreter running the benchmark, which the report names).

COLD_START_BASELINE=<git revision> also loads each function as it was at that revision (its app.py and
inventory_sync, on the same third-party packages), interleaved in the same run: what a change saved or cost,
measured against itself rather than across runs."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
from functools import cache
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
t, c = time.perf_counter(), time.process_time()
{body}
print("", time.perf_counter() - t, time.process_time() - c)
"""


def checkpoint(key: str) -> str:
    """A line for a body: the time so far, reported under `key` (the body's own key reports at its end)."""
    return f"\nprint({key!r}, time.perf_counter() - t, time.process_time() - c)\n"


def _load(path: Path) -> str:
    return (f"spec = importlib.util.spec_from_file_location('app', {str(path)!r})\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)")


@cache
def python() -> tuple[str, str]:
    """(the interpreter, its version): the functions' runtime where found (see the module's docstring)."""
    for candidate in (os.environ.get("COLD_START_PYTHON"), shutil.which("python3.12"), sys.executable):
        if not candidate:
            continue
        found = subprocess.run([candidate, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True,
                               text=True, check=False)
        if found.returncode == 0:  # a pyenv shim on PATH may name a version that is not installed
            return candidate, found.stdout.strip()
    raise RuntimeError("no Python interpreter runs")  # unreachable: sys.executable runs


def layer() -> Path:
    return ROOT / ".bench_layer" / ("py" + ".".join(python()[1].split(".")[:2]))  # binary wheels per version


def build_layer() -> Path:
    requirements = (ROOT / "layers/common/requirements.txt").read_text()
    target = layer()
    stamp = target / ".requirements.txt"
    if not stamp.exists() or stamp.read_text() != requirements:  # built from other requirements: again
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run([python()[0], "-m", "pip", "install", "--quiet", "--target", str(target), "-r",
                        str(ROOT / "layers/common/requirements.txt")], check=True)
        stamp.write_text(requirements)
    shutil.rmtree(target / "inventory_sync", ignore_errors=True)
    shutil.copytree(ROOT / "layers/common/inventory_sync", target / "inventory_sync")
    return target


# Each function's floor: the customer's stack imported alone — psycopg and its pool, pydantic with a model,
# Powertools' Logger and the Powertools utility the function is built on. pydantic-settings counts as ours (the
# function pays for it, the floor does not). The distance from this floor to the function is what our code costs.
STACK = ("import psycopg, psycopg_pool\nfrom pydantic import BaseModel\n"
         "class M(BaseModel):\n    a: int\n    b: str | None = None\nM(a=1)\n"
         "from aws_lambda_powertools import Logger\nLogger()\n")
FLOORS = {
    "dispatch": STACK + "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver\n"
                        "APIGatewayHttpResolver(enable_validation=True)",
    "run_sync": STACK + "from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType\n"
                        "BatchProcessor(event_type=EventType.SQS)",
    "finalize": STACK + "from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType\n"
                        "BatchProcessor(event_type=EventType.SQS)",
}

# What the first invocation builds of what the import deferred (pydantic builds a model's validator when the
# model is first used, so a request builds its own route's models only): the function's settings class and
# the models its first request or message uses. A cold start is the import plus this; the floor builds its
# model at import.
FIRST_USE = {
    "dispatch": (("inventory_sync.settings", "DispatchSettings"), ("inventory_sync.domain.selection",
                 "SelectionRequest"), ("inventory_sync.domain.selection", "Selection"),
                 ("inventory_sync.api.models", "DispatchOut"), ("inventory_sync.api.models", "Problem")),
    "run_sync": (("inventory_sync.settings", "RunSyncSettings"), ("inventory_sync.domain.messages", "RunMessage"),
                 ("inventory_sync.domain.messages", "FinalizeMessage")),
    "finalize": (("inventory_sync.settings", "Settings"), ("inventory_sync.domain.messages", "RunMessage"),
                 ("inventory_sync.domain.messages", "FinalizeMessage")),
}


def _first_use(name: str) -> str:
    return "\nimport importlib\n" + "".join(
        f"importlib.import_module({module!r}).{model}.model_rebuild(force=True)\n" for module, model in FIRST_USE[name])


# The function's modules load with the garbage collector off (inventory_sync.coldstart); the floor as defined
# imports the stack plainly. The same step applied to the floor shows what our own code costs like for like.
NO_GC = "import gc\ngc.disable()\n{body}\ngc.freeze()\ngc.enable()"


def baseline_tree() -> tuple[str, Path] | None:
    """(revision, the folder holding its functions/ and layers/common/inventory_sync) when COLD_START_BASELINE
    names one, else None."""
    rev = os.environ.get("COLD_START_BASELINE")
    if not rev:
        return None
    sha = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.strip()
    target = ROOT / ".bench_layer" / f"rev-{sha[:12]}"
    if not (target / "functions").exists():
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", sha, "functions", "layers/common/inventory_sync"],
                                 capture_output=True, check=True, cwd=ROOT).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return rev, target


def _once(body: str) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds at each checkpoint of one body in a fresh interpreter ("": its end). A body that
    starts with a `#path:<folder>` line finds its modules there before the layer."""
    path = str(layer())
    if body.startswith("#path:"):
        path = body.split("\n", 1)[0].removeprefix("#path:") + os.pathsep + path
    out = subprocess.run([python()[0], "-S", "-c", PROBE.format(body=body)], capture_output=True, text=True,
                         check=True, cwd=ROOT, env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1",
                                                    "PYTHONPATH": path, "PYTHONNOUSERSITE": "1"})
    times = {}
    for line in out.stdout.splitlines():
        key, wall, cpu = line.rsplit(" ", 2)
        times[key.strip()] = (float(wall), float(cpu))
    return times


def interleaved(bodies: dict[str, str], runs: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) time of each body (and of each checkpoint in it, under its key), measured in turns
    (a, b, c, a, b, c, ...) so that the machine's load weighs on all alike; one warm-up turn first compiles the
    .pyc files. On a shared machine the wall time carries other processes' load; the process's CPU time (user +
    system) does not."""
    samples: dict[str, list[tuple[float, float]]] = {}
    for turn in range(runs + 1):
        for name, body in bodies.items():
            for key, took in _once(body).items():
                if turn:
                    samples.setdefault(key or name, []).append(took)
    return {name: (statistics.median(v[0] for v in values), statistics.median(v[1] for v in values))
            for name, values in samples.items()}


def run(runs: int = 9) -> dict[str, Any]:
    build_layer()
    minimal_file = ROOT / ".bench_minimal_handler.py"
    minimal_file.write_text(MINIMAL)
    names = ("dispatch", "run_sync", "finalize")
    bodies = {"minimal": _load(minimal_file)}
    for name in names:
        # the import, then (in the same process) what its first invocation builds of what the import deferred
        bodies[f"{name}_first_use"] = _load(ROOT / "functions" / name / "app.py") + checkpoint(name) + _first_use(name)
        bodies[f"{name}_floor"] = FLOORS[name]
        # the floor with pydantic-settings and the function's settings class: what is left is our own code
        bodies[f"{name}_floor_settings"] = FLOORS[name] + "\nimport pydantic_settings"
        bodies[f"{name}_floor_no_gc"] = NO_GC.format(body=FLOORS[name])
    base = baseline_tree()
    if base:  # the same function at the baseline revision, its first invocation included
        for name in names:
            tree = base[1]
            bodies[f"{name}_baseline"] = (f"#path:{tree / 'layers/common'}\n"
                                          + _load(tree / "functions" / name / "app.py") + _first_use(name))
    try:
        medians = interleaved(bodies, runs)
    finally:
        minimal_file.unlink()
    baseline = medians["minimal"][0]
    results: dict[str, Any] = {"minimal_powertools_ms": baseline * 1000, "minimal_powertools_cpu_ms":
                               medians["minimal"][1] * 1000, "runs": runs, "python": python()[1]}
    print(f"cold import, minimal Powertools handler: {baseline * 1000:.0f} ms (interleaved medians of {runs}, "
          f"Python {python()[1]})")
    if base:
        results["baseline"] = base[0]
    for name in names:
        (t, t_cpu), (floor, floor_cpu) = medians[name], medians[f"{name}_floor"]
        results |= {f"{name}_ms": t * 1000, f"{name}_floor_ms": floor * 1000, f"{name}_cpu_ms": t_cpu * 1000,
                    f"{name}_floor_cpu_ms": floor_cpu * 1000,
                    f"{name}_floor_settings_cpu_ms": medians[f"{name}_floor_settings"][1] * 1000,
                    f"{name}_first_use_cpu_ms": medians[f"{name}_first_use"][1] * 1000,
                    f"{name}_floor_no_gc_cpu_ms": medians[f"{name}_floor_no_gc"][1] * 1000}
        first, floor_no_gc = medians[f"{name}_first_use"][1], medians[f"{name}_floor_no_gc"][1]
        print(f"cold import, {name}: {t * 1000:.0f} ms ({t / baseline:.1f}x the minimal handler); its floor (the "
              f"customer's stack alone): {floor * 1000:.0f} ms; the function is {t / floor:.2f}x its floor, "
              f"{t_cpu / floor_cpu:.2f}x in CPU time ({t_cpu * 1000:.0f} vs {floor_cpu * 1000:.0f} ms; target 1.2x); "
              f"with its first invocation's deferred models {first / floor_cpu:.2f}x; like for like (the floor "
              f"loaded without the collector too, {floor_no_gc * 1000:.0f} ms) {t_cpu / floor_no_gc:.2f}x")
        if base:
            before = medians[f"{name}_baseline"][1]
            results[f"{name}_baseline_first_use_cpu_ms"] = before * 1000
            print(f"  at {base[0]}, the same run: {before * 1000:.0f} ms with its first invocation "
                  f"({before / floor_cpu:.2f}x the floor); this tree {first * 1000:.0f} ms, "
                  f"{(first - before) * 1000:+.0f} ms ({first / before - 1:+.0%})")
    return results


if __name__ == "__main__":
    run()
