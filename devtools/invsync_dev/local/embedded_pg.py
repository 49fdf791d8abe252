"""An embedded PostgreSQL server for tests and the local stack (dev tooling, not shipped).

Uses the PostgreSQL server binaries on this machine (PATH or /usr/lib/postgresql/*/bin)
and falls back to the ``pgserver`` package's bundled binaries when there are none.
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` (or
``nobody``) system user.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psycopg


def find_bin_dir() -> Path:
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise RuntimeError("no PostgreSQL server binaries found and the pgserver package is missing") from exc
    return Path(getattr(pgserver, "POSTGRES_BIN_PATH"))  # pragma: no cover  # noqa: B009 - untyped package


# the local stack's PostgreSQL port when it is free (README: DATABASE_URL=postgresql://postgres@127.0.0.1:5433/postgres)
DEFAULT_PORT = 5433


class PortInUse(RuntimeError):
    """Another server (often another checkout's local stack) listens on the port asked for."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing listens on it. SO_REUSEADDR as PostgreSQL sets it: connections of a server just stopped (TIME_WAIT)
    do not hold the port, a listener does."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and no unprivileged user (postgres/nobody) to run PostgreSQL as")


class EmbeddedPostgres:
    """initdb (once) + start/stop of a private server on a loopback port."""

    def __init__(self, data_dir: Path, *, port: int | None = None, durable: bool = True,
                 host: str = "127.0.0.1") -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.host = host
        self.durable = durable
        self.bin_dir = find_bin_dir()
        self.user = _run_as()
        if self.user and not self._reachable(self.data_dir):
            # as root the server runs as another user, who cannot enter a private folder (a clone in
            # a mktemp -d or /root): keep its data in a stable place of its own instead
            digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
            self.data_dir = Path("/var/lib/invsync") / f"pg-{digest}" / self.data_dir.name

    def _reachable(self, path: Path) -> bool:
        probe = path
        while not probe.exists():
            probe = probe.parent
        return subprocess.run(["runuser", "-u", self.user or "", "--", "test", "-x", str(probe)],
                              capture_output=True, check=False).returncode == 0

    def _run(self, cmd: list[str]) -> None:
        result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}): {result.stdout.strip()}")

    def _cmd(self, name: str, *args: str) -> list[str]:
        cmd = [str(self.bin_dir / name), *args]
        return ["runuser", "-u", self.user, "--", *cmd] if self.user else cmd

    def _chown(self, path: Path) -> None:
        if self.user:
            entry = pwd.getpwnam(self.user)
            for root, dirs, files in os.walk(path):
                os.chown(root, entry.pw_uid, entry.pw_gid)
                for name in dirs + files:
                    os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    def url_for(self, dbname: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{dbname}"

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def running(self) -> bool:
        if not self.initialised():
            return False
        result = subprocess.run(self._cmd("pg_ctl", "-D", str(self.data_dir), "status"), capture_output=True,
                                text=True, check=False)
        if result.returncode != 0:
            return False
        self._adopt_running_port()
        return True

    def _adopt_running_port(self) -> None:
        """This data directory's server is up: its port is the one in postmaster.pid (line 4), whatever was asked."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            self.port = int(lines[3])
        except (OSError, IndexError, ValueError):
            return

    def start(self) -> EmbeddedPostgres:
        if not port_free(self.port, self.host):  # pg_ctl would only say "could not start server"
            raise PortInUse(f"port {self.port} on {self.host} is in use (is `invsync local up` running, perhaps from "
                            "another checkout?)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.parent.chmod(self.data_dir.parent.stat().st_mode | 0o111)
        self._chown(self.data_dir)
        if not self.initialised():
            self._run(self._cmd("initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
                                "-E", "UTF8", "--locale=C.UTF-8"))
        self._write_hba()
        options = [
            f"-p {self.port}",
            f"-c listen_addresses={self.host}",
            f"-c unix_socket_directories={self.data_dir}",
            "-c max_connections=300",
        ]
        if not self.durable:  # tests only: speed over crash safety
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        log = self.data_dir / "server.log"
        try:
            self._run(self._cmd("pg_ctl", "-D", str(self.data_dir), "-l", str(log), "-o", " ".join(options),
                                "-w", "-t", "60", "start"))
        except RuntimeError as exc:  # the reason is in the server's log, not in pg_ctl's output
            tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
            raise RuntimeError(f"{exc}; server log: {' | '.join(tail) or 'empty'}") from None
        self._wait_ready()
        return self

    def _write_hba(self) -> None:
        """The superuser `postgres` is trusted (a local development server); every other role signs in with
        its password, as on a real server, so that wrong or rotated credentials are refused here too."""
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text("# written by invsync_dev.local.embedded_pg\n"
                       "local all postgres trust\n"
                       "host  all postgres 127.0.0.1/32 trust\n"
                       "host  all postgres ::1/128 trust\n"
                       "local all all scram-sha-256\n"
                       "host  all all 127.0.0.1/32 scram-sha-256\n"
                       "host  all all ::1/128 scram-sha-256\n")
        self._chown(hba)

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop"),
            check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def restart(self) -> None:
        """Stop (immediately, like a crash) and start again on the same port."""
        self.stop("immediate")
        self.start()

    def create_database(self, name: str, template: str | None = None) -> str:
        with psycopg.connect(self.url, autocommit=True) as conn:
            if template:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            else:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
