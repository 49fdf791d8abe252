"""Every function through SAM's own local runtime (`sam local invoke`, `sam local start-api`).

Needs a Docker engine and the local Lambda images (../shared/tools/sam-local-images.sh builds them);
where either is missing the test is skipped and says which. The functions run in containers on the
host's network (`--docker-network host`), so every endpoint of the local stack stays on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from invsync_dev import sample_events
from invsync_dev.embedded_pg import free_port

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "public.ecr.aws/lambda/python:3.12-x86_64"


def _docker_problem() -> str | None:
    if not shutil.which("docker"):
        return "no docker client on this machine"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return "no Docker engine running (CI has none; ../shared/tools/sam-local-images.sh starts one)"
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode != 0:
        return f"image {IMAGE} missing (build it with ../shared/tools/sam-local-images.sh)"
    return None


pytestmark = [pytest.mark.docker, pytest.mark.skipif(_docker_problem() is not None,
                                                     reason=f"sam local needs Docker: {_docker_problem()}")]


def _sam() -> str:
    return shutil.which("sam") or str(Path(sys.executable).parent / "sam")


def _env() -> dict[str, str]:
    py312 = next((str(Path(p).parent) for p in sorted(Path("/root/.pyenv/versions").glob("3.12*/bin/python3.12"))),
                 "")
    return {**os.environ, "SAM_CLI_TELEMETRY": "0", "SAM_SKIP_PULL_IMAGE": "1", "AWS_DEFAULT_REGION": "us-east-1",
            "PATH": py312 + os.pathsep + os.environ["PATH"]}


def _invoke(build: Path, function: str, event: dict, env_json: Path) -> dict:
    event_file = build / f"{function}-event.json"
    event_file.write_text(json.dumps(event))
    result = subprocess.run([_sam(), "local", "invoke", function, "-t", str(build / "template.yaml"), "-e",
                             str(event_file), "--env-vars", str(env_json), "--docker-network", "host"],
                            capture_output=True, text=True, env=_env(), timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    build = tmp_path_factory.mktemp("sam") / "build"
    result = subprocess.run([_sam(), "build", "--build-dir", str(build)], cwd=ROOT, env=_env(), capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return build


def test_dispatch_run_finalize_through_sam_local_invoke(built, database_url, db, monkeypatch) -> None:
    data = Path(os.environ.get("TMPDIR", "/tmp")) / f"invsync-sam-{os.getpid()}"
    env_json = built / "env.local.json"
    aws_port, api_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"INVSYNC_DATA_DIR": str(data), "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"})
    stack = subprocess.Popen([sys.executable, "-m", "invsync_dev.cli", "local", "up", "--for-containers",
                              "--env-json", str(env_json), "--no-pollers", "--api-port", str(api_port),
                              "--aws-port", str(aws_port), "--graph-port", str(free_port())],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        tenant_id = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not env_json.exists():
            line = stack.stdout.readline()
            if m := re.match(r"Demo tenant id\s+(\d+)", line):
                tenant_id = int(m.group(1))
            if "Wrote" in line:
                break
        assert tenant_id and env_json.exists()
        settings = json.loads(env_json.read_text())["DispatchFunction"]
        for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
            monkeypatch.setenv(key, settings[key])
        sqs = boto3.client("sqs")

        event = sample_events._api("POST", f"/tenants/{tenant_id}/inventory-syncs",
                                   {"policy_types": ["deviceConfiguration", "mobileApp"]})
        answer = _invoke(built, "DispatchFunction", event, env_json)
        assert answer["statusCode"] == 202, answer
        bulk_id = json.loads(answer["body"])["bulk_operation_run"]["id"]

        [message] = sqs.receive_message(QueueUrl=settings["RUN_QUEUE_URL"], WaitTimeSeconds=2)["Messages"]
        run_event = sample_events._sqs(json.loads(message["Body"]), "RunQueue")
        assert _invoke(built, "RunSyncFunction", run_event, env_json) == {"batchItemFailures": []}
        sqs.delete_message(QueueUrl=settings["RUN_QUEUE_URL"], ReceiptHandle=message["ReceiptHandle"])

        [final] = sqs.receive_message(QueueUrl=settings["FINALIZE_QUEUE_URL"], WaitTimeSeconds=2)["Messages"]
        finalize_event = sample_events._sqs(json.loads(final["Body"]), "FinalizeQueue")
        assert _invoke(built, "FinalizeFunction", finalize_event, env_json) == {"batchItemFailures": []}

        run = db.execute("SELECT status, items_observed_count FROM inventory_sync_runs WHERE bulk_operation_run_id"
                         " = %s", (bulk_id,)).fetchone()
        assert run[0] == "success" and run[1] > 0
        assert db.execute("SELECT status FROM bulk_operation_runs WHERE id = %s", (bulk_id,)).fetchone()[0] == (
            "completed")
        trail = [r[0] for r in db.execute("SELECT action FROM audit_logs WHERE metadata ->> 'bulk_operation_run_id'"
                                          " = %s OR resource_id = %s ORDER BY id",
                                          (str(bulk_id), str(bulk_id))).fetchall()]
        assert trail == ["inventory.sync.dispatched", "inventory.sync.completed"]

        # one request through sam local start-api: it runs no JWT authorizer, so the function answers 401
        port = free_port()
        api = subprocess.Popen([_sam(), "local", "start-api", "-t", str(built / "template.yaml"), "--env-vars",
                                str(env_json), "--docker-network", "host", "--port", str(port)], cwd=ROOT,
                               env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            import urllib.error
            import urllib.request

            status = None
            for _ in range(120):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/policy-types", timeout=60)  # noqa: S310
                except urllib.error.HTTPError as err:
                    status, body = err.code, json.loads(err.read())
                    break
                except OSError:
                    time.sleep(1)
            assert status == 401 and body["status"] == 401
        finally:
            api.terminate()
            api.wait(timeout=30)
    finally:
        stack.send_signal(2)
        stack.wait(timeout=60)
        shutil.rmtree(data, ignore_errors=True)
