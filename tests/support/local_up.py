"""`invsync local up` in a subprocess, as a user starts it: read until it says it is up."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class LocalUp:
    def __init__(self, data_dir: Path, database_url: str, *args: str, timeout: float = 120) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"INVSYNC_DATA_DIR": str(data_dir), "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"})
        self.process = subprocess.Popen([sys.executable, "-m", "invsync_dev.cli", "local", "up", *args], cwd=ROOT,
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.tenant_id = 0
        self.token = ""
        self.output: list[str] = []  # what it printed, the token line masked
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            if m := re.match(r"Token\s+(\S+)", line):
                self.token, line = m.group(1), "Token <hidden>\n"
            if m := re.match(r"Demo tenant id\s+(\d+)", line):
                self.tenant_id = int(m.group(1))
            self.output.append(line)
            if line.startswith("Ctrl-C"):
                break

    def printed(self) -> str:
        return "".join(self.output)

    def stop(self) -> str:
        """Ctrl-C, as a user stops it; returns what it printed after it was up."""
        self.process.send_signal(2)
        try:
            rest, _ = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            rest, _ = self.process.communicate()
        return rest or ""
