"""The chaos soak (tests/soak/chaos.py): the short form runs in `make test`; `make soak` runs the long form
over many seeds. A failure prints its seed and the command that replays it; INVSYNC_SOAK_SEED sets the seed."""

from __future__ import annotations

import logging
import os
import random
import time

import pytest

from tests.soak.chaos import LONG, SHORT, Scale, Soak

SEED = "INVSYNC_SOAK_SEED"
SEEDS = "INVSYNC_SOAK_SEEDS"


def _seeds(count: int) -> list[int]:
    if os.environ.get(SEED):
        return [int(os.environ[SEED])]
    return [random.SystemRandom().randrange(1, 2**31) for _ in range(count)]


def _soak(seed: int, scale: Scale, replay: str, pg, database_url, moto_server, graph, monkeypatch, tmp_path) -> None:
    print(f"chaos soak seed {seed} (replay: {replay})", flush=True)
    soak = Soak(seed, scale, database_url=database_url, pg_server=pg.server, graph=graph,
                endpoint=moto_server["endpoint"], workdir=tmp_path)
    # thousands of requests: the emulator's access log and the functions' INFO lines would drown the report
    quiet = {name: logging.getLogger(name).level for name in ("werkzeug", "inventory-sync")}
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
    started = time.monotonic()
    try:
        soak.setup(monkeypatch)
        soak.run()
        soak.settle()
    finally:
        soak.stop()
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)
    soak.check()
    print(f"{soak.summary()}; {time.monotonic() - started:.1f} s", flush=True)
    assert not soak.failures, soak.report(replay)


@pytest.mark.slow
@pytest.mark.parametrize("seed", _seeds(1))
def test_chaos_soak_short(seed, pg, database_url, moto_server, graph, monkeypatch, tmp_path) -> None:
    _soak(seed, SHORT, f"{SEED}={seed} .venv/bin/python -m pytest tests/soak -k short", pg, database_url,
          moto_server, graph, monkeypatch, tmp_path)


@pytest.mark.soak
@pytest.mark.parametrize("seed", _seeds(int(os.environ.get(SEEDS, "10"))))
def test_chaos_soak_long(seed, pg, database_url, moto_server, graph, monkeypatch, tmp_path) -> None:
    _soak(seed, LONG, f"{SEED}={seed} make soak", pg, database_url, moto_server, graph, monkeypatch, tmp_path)
