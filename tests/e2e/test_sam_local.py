"""Every function through SAM's own local runtime: `sam build`, then `sam local invoke` dispatch (API
event) -> run_sync (the RunQueue message it produced) -> finalize (the FinalizeQueue message), and one
dispatch through `sam local start-api`, all against `invsync local up --for-containers`.

Needs a Docker engine, the local Lambda images and root (the relay opens sockets inside a container's
network namespace); `devtools/sam-local-images.sh` provides the first two. Elsewhere the test is
skipped and says which is missing; `make sam-local` (INVSYNC_REQUIRE_DOCKER=1) turns that into a failure.
Run it with `-s` to watch each step: `make sam-local` does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

from invsync_dev.local import sample_events
from invsync_dev.local.container_bridge import docker_problem
from invsync_dev.local.embedded_pg import free_port
from tests.support import sam
from tests.support.local_up import LocalUp

ROOT = Path(__file__).resolve().parents[2]


def _problem() -> str | None:
    if os.geteuid() != 0:
        return "needs root (the relay enters a container's network namespace)"
    if sam.python312_dir() is None:
        return "sam build needs a python3.12 interpreter (the functions' runtime); none on this machine"
    return docker_problem()


PROBLEM = _problem()
if PROBLEM and os.environ.get("INVSYNC_REQUIRE_DOCKER") == "1":
    raise RuntimeError(f"INVSYNC_REQUIRE_DOCKER=1 but sam local cannot run here: {PROBLEM}")

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900),
              pytest.mark.skipif(PROBLEM is not None, reason=f"sam local not run: {PROBLEM}")]


def say(text: str) -> None:
    print(f"[sam local] {text}", flush=True)


def _sam_env() -> dict[str, str]:
    env = {k: v for k, v in sam.env().items() if not k.startswith(("AWS_", "DATABASE_"))}
    env.update({"SAM_SKIP_PULL_IMAGE": "1", "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": "us-east-1"})
    return env


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    build = tmp_path_factory.mktemp("sam") / "build"
    started = time.monotonic()
    result = subprocess.run([sam.sam(), "build", "--build-dir", str(build)], cwd=ROOT, env=_sam_env(),
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    layer = build / "CommonLayer" / "python"
    assert (layer / "inventory_sync").is_dir() and (layer / "boto3").is_dir() and (layer / "psycopg").is_dir()
    say(f"sam build: ok in {time.monotonic() - started:.0f} s ({build})")
    return build


class Stack(LocalUp):
    """`invsync local up --for-containers --no-pollers` on the test's database, on names of its own."""

    def __init__(self, data: Path, database_url: str, tag: str) -> None:
        self.env_json = data / "env.local.json"
        self.network, self.host = f"invsync-e2e-{tag}", f"invsync-e2e-stack-{tag}"
        self.aws_port = free_port()
        super().__init__(data, database_url, "--for-containers", "--no-pollers", "--env-json", str(self.env_json),
                         "--api-port", str(free_port()), "--aws-port", str(self.aws_port), "--graph-port",
                         str(free_port()), "--docker-network", self.network, "--stack-host", self.host)
        assert self.tenant_id and self.token and self.env_json.exists(), self.printed()[-3000:]

    def receive(self, queue: str, into: Path) -> dict:
        result = subprocess.run([sys.executable, "-m", "invsync_dev.cli", "local", "receive", queue, "--aws-endpoint",
                                 f"http://127.0.0.1:{self.aws_port}", "--wait", "10", "-o", str(into)],
                                cwd=ROOT, env=_sam_env(), capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return json.loads(into.read_text())


def _invoke(built: Path, stack: Stack, function: str, event_file: Path) -> dict:
    started = time.monotonic()
    result = subprocess.run([sam.sam(), "local", "invoke", function, "-t", str(built / "template.yaml"),
                             "-e", str(event_file), "--env-vars", str(stack.env_json),
                             "--docker-network", stack.network], cwd=ROOT, env=_sam_env(), capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    report = next((line for line in result.stderr.splitlines() if line.startswith("REPORT")), "no REPORT line")
    say(f"sam local invoke {function}: exit 0 in {time.monotonic() - started:.0f} s -> {str(answer)[:160]}")
    say(f"  {report.split(chr(9))[2] if chr(9) in report else report}")
    return answer


def _request(url: str, token: str | None, body: dict | None = None) -> tuple[int, dict]:
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture
def stack(built, database_url, tmp_path):
    data = Path(os.environ.get("TMPDIR", "/tmp")) / f"invsync-sam-{os.getpid()}"  # the server user must reach it
    data.mkdir(mode=0o755, exist_ok=True)
    started = Stack(data, database_url, str(os.getpid()))
    say(f"local stack up for containers: network {started.network}, host {started.host}, "
        f"demo tenant {started.tenant_id}")
    try:
        yield started
    finally:
        started.stop()
        shutil.rmtree(data, ignore_errors=True)


def test_dispatch_run_sync_finalize_through_sam_local(built, stack, db: psycopg.Connection, tmp_path) -> None:
    event_file = tmp_path / "dispatch-event.json"
    event_file.write_text(json.dumps(sample_events._api(
        "POST", f"/tenants/{stack.tenant_id}/inventory-syncs", {"policy_types": ["deviceConfiguration", "mobileApp"]})))
    answer = _invoke(built, stack, "DispatchFunction", event_file)
    assert answer["statusCode"] == 202, answer
    bulk_id = json.loads(answer["body"])["bulk_operation_run"]["id"]

    run_event = stack.receive("RunQueue", tmp_path / "run-event.json")
    assert json.loads(run_event["Records"][0]["body"])["bulk_operation_run_id"] == bulk_id
    assert _invoke(built, stack, "RunSyncFunction", tmp_path / "run-event.json") == {"batchItemFailures": []}

    stack.receive("FinalizeQueue", tmp_path / "finalize-event.json")
    assert _invoke(built, stack, "FinalizeFunction", tmp_path / "finalize-event.json") == {"batchItemFailures": []}

    run = db.execute("SELECT id, status, items_observed_count, items_upserted_count, error_codes FROM"
                     " inventory_sync_runs WHERE bulk_operation_run_id = %s", (bulk_id,)).fetchone()
    stored = db.execute("SELECT count(*) FROM inventory_items WHERE tenant_id = %s AND last_seen_run_id = %s",
                        (stack.tenant_id, run[0])).fetchone()[0]
    bulk = db.execute("SELECT status, processed_items, succeeded, failed FROM bulk_operation_runs WHERE id = %s",
                      (bulk_id,)).fetchone()
    trail = db.execute("SELECT action, actor_type, actor_email FROM audit_logs WHERE tenant_id = %s ORDER BY id",
                       (stack.tenant_id,)).fetchall()
    say(f"database: run {run[0]} status={run[1]} observed={run[2]} upserted={run[3]} errors={run[4]}; "
        f"{stored} inventory_items rows from it")
    say(f"database: bulk operation {bulk_id} status={bulk[0]} processed={bulk[1]} succeeded={bulk[2]} "
        f"failed={bulk[3]}")
    say(f"database: audit trail {[row[0] for row in trail]} by {trail[0][2]}")
    assert run[1] == "success" and run[2] > 0 and run[3] == run[2] and run[4] == []
    assert stored == run[2]
    assert bulk == ("completed", 1, 1, 0)
    assert trail == [("inventory.sync.dispatched", "user", "operator@contoso-demo.example"),
                     ("inventory.sync.completed", "user", "operator@contoso-demo.example")]


def test_a_request_through_sam_local_start_api(built, stack, db: psycopg.Connection) -> None:
    port = free_port()
    api = subprocess.Popen([sam.sam(), "local", "start-api", "-t", str(built / "template.yaml"), "--env-vars",
                            str(stack.env_json), "--docker-network", stack.network, "--port", str(port)],
                           cwd=ROOT, env=_sam_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=5)  # noqa: S310 - loopback only
            except urllib.error.HTTPError:
                break  # answering
            except OSError:
                assert time.monotonic() < deadline, "sam local start-api did not come up"
                time.sleep(1)
        status, body = _request(f"{base}/tenants/{stack.tenant_id}/inventory-syncs", None, {})
        say(f"sam local start-api POST without a token: {status} {body.get('title')}")
        assert status == 401 and body["status"] == 401
        status, body = _request(f"{base}/tenants/{stack.tenant_id}/inventory-syncs", stack.token,
                                {"policy_types": ["mobileApp"]})
        say(f"sam local start-api POST with the local stack's dev token: {status}")
        assert status == 202, body
        bulk_id = body["bulk_operation_run"]["id"]
        row = db.execute("SELECT b.status, u.subject FROM bulk_operation_runs b JOIN users u ON u.id = b.user_id"
                         " WHERE b.id = %s", (bulk_id,)).fetchone()
        say(f"database: bulk operation {bulk_id} status={row[0]} dispatched by {row[1]}")
        assert row == ("pending", "demo-operator")
    finally:
        api.terminate()
        api.wait(timeout=30)


def test_the_other_triggers_through_sam_local(built, stack, db: psycopg.Connection) -> None:
    """The committed events as they are: the schedule, the sweep, and a dead-lettered run message."""
    events = ROOT / "events"
    answer = _invoke(built, stack, "DispatchFunction", events / "dispatch_scheduled.json")
    assert answer["status"] == "ok" and answer["dispatched"] == 1 and answer["failed"] == 0, answer
    bulk = db.execute("SELECT id, status, user_id FROM bulk_operation_runs").fetchall()
    actor = db.execute("SELECT actor_type FROM audit_logs WHERE action = 'inventory.sync.dispatched'").fetchall()
    say(f"database: scheduled bulk operations {bulk}, dispatched by {actor}")
    assert [row[1:] for row in bulk] == [("pending", None)] and actor == [("system",)]

    answer = _invoke(built, stack, "FinalizeFunction", events / "finalize_sweep.json")
    assert answer == {"status": "ok", "orphaned_runs": [], "live_runs": 0, "stale_pending": [],
                      "pruned_changes": 0}, answer

    # events/finalize_dlq.json names bulk operation 1: run_sync gave up on it, so finalize ends it
    assert _invoke(built, stack, "FinalizeFunction", events / "finalize_dlq.json") == {"batchItemFailures": []}
    final = db.execute("SELECT status FROM bulk_operation_runs WHERE id = 1").fetchone()
    trail = [row[0] for row in db.execute("SELECT action FROM audit_logs ORDER BY id").fetchall()]
    say(f"database: after the dead-letter, bulk operation 1 is {final[0]}; audit trail {trail}")
    assert final == ("failed",)
    assert trail == ["inventory.sync.dispatched", "inventory.sync.failed"]
