"""Onboarding: `invsync tenants …` / `members …` against PostgreSQL and moto (as a server), and the Graph
permission check (CLI and API) against the stand-in."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from invsync_dev.local.graph_standin import Fault
from tests.support import factories

ROOT = Path(__file__).resolve().parents[2]
SECRET = "onboarding-secret-value-123"


def invsync(*args: str, stdin: str | None = None, env: dict[str, str] | None = None):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "invsync_dev.cli", *args], input=stdin, text=True,
                          capture_output=True, cwd=ROOT, env=full_env, timeout=120)


def direct(*args: str, stdin: str | None = None, env: dict[str, str] | None = None):
    """A command in the CLI's direct mode: the API's routes in the CLI's process, over DATABASE_URL and Secrets
    Manager (moto), as the platform administrator operator:<login>."""
    return invsync(*args, "--direct", stdin=stdin, env=env)


CLIENT_ID = "0b9e6a4c-1f2d-4e3a-9b8c-7d6e5f4a3b2c"
OPERATOR = f"operator:{getpass.getuser()}"


def test_add_list_show_and_manage_a_tenant(database_url, moto_server, db) -> None:
    result = direct("tenants", "add", "--name", "Fabrikam", "--graph-tenant-id", "fabrikam.onmicrosoft.com",
                    "--client-id", CLIENT_ID, "--client-secret-stdin", stdin=SECRET + "\n")
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    tenant_id = db.execute("SELECT id FROM tenants WHERE name = 'Fabrikam'").fetchone()[0]
    stored = boto3.client("secretsmanager").get_secret_value(SecretId=f"inventory-sync/tenants/{tenant_id}")
    assert json.loads(stored["SecretString"]) == {"client_secret": SECRET}
    listed = direct("tenants", "list")
    assert "Fabrikam" in listed.stdout and SECRET not in listed.stdout
    assert direct("members", "add", "--tenant", str(tenant_id), "--subject", "bob", "--role", "owner").returncode == 0
    shown = direct("tenants", "show", str(tenant_id))
    assert "bob" in shown.stdout and "owner" in shown.stdout and SECRET not in shown.stdout
    assert direct("tenants", "disable", str(tenant_id)).returncode == 0
    assert direct("tenants", "schedule", str(tenant_id), "off").returncode == 0
    assert db.execute("SELECT status, scheduled_sync_enabled FROM tenants WHERE id = %s",
                      (tenant_id,)).fetchone() == ("inactive", False)
    assert direct("tenants", "enable", str(tenant_id)).returncode == 0
    rotated = direct("tenants", "set-secret", str(tenant_id), "--client-secret-stdin", stdin="new-secret\n")
    assert rotated.returncode == 0 and "new-secret" not in rotated.stdout
    stored = boto3.client("secretsmanager").get_secret_value(SecretId=f"inventory-sync/tenants/{tenant_id}")
    assert json.loads(stored["SecretString"]) == {"client_secret": "new-secret"}
    # the last owner stays, as over the API: the refusal is printed as the problem's title and detail
    last = direct("members", "remove", "--tenant", str(tenant_id), "--subject", "bob")
    assert last.returncode == 1 and "Conflict: a tenant keeps at least one owner" in last.stderr, last.stderr
    assert direct("members", "add", "--tenant", str(tenant_id), "--subject", "carol", "--role", "owner"
                  ).returncode == 0
    assert direct("members", "remove", "--tenant", str(tenant_id), "--subject", "bob").returncode == 0
    assert db.execute("SELECT u.subject FROM tenant_memberships m JOIN users u ON u.id = m.user_id").fetchall() == [
        ("carol",)]
    assert direct("members", "remove", "--tenant", str(tenant_id), "--subject", "bob").returncode != 0
    missing = direct("tenants", "show", "99999")
    assert missing.returncode == 1 and missing.stderr.strip() == "invsync: Not Found: tenant 99999 not found"


def test_the_secret_never_comes_from_arguments(database_url, moto_server) -> None:
    result = direct("tenants", "add", "--name", "X", "--graph-tenant-id", "x", "--client-id", "y",
                    "--client-secret", SECRET)
    assert result.returncode != 0 and SECRET not in result.stdout


def test_bad_input_is_refused_with_its_errors(database_url, moto_server, db) -> None:
    result = direct("tenants", "add", "--name", "X", "--graph-tenant-id", "x.example", "--client-id", "not-a-guid",
                    "--client-secret-stdin", stdin=SECRET + "\n")
    assert result.returncode == 1 and SECRET not in result.stdout + result.stderr
    first, *errors = result.stderr.strip().splitlines()
    assert first.startswith("invsync: Unprocessable Content: ") and "{" not in first, result.stderr
    assert any("credential.client_id" in line for line in errors), result.stderr
    assert db.execute("SELECT count(*) FROM tenants").fetchone()[0] == 0


def test_failure_half_way_leaves_nothing_behind(database_url, moto_server, db) -> None:
    # Secrets Manager unreachable: the tenant row must not stay
    result = direct("tenants", "add", "--name", "Half", "--graph-tenant-id", "half.example", "--client-id", CLIENT_ID,
                    "--client-secret-stdin", stdin=SECRET + "\n",
                    env={"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_MAX_ATTEMPTS": "1"})
    assert result.returncode == 1 and "Service Unavailable" in result.stderr, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert db.execute("SELECT count(*) FROM tenants").fetchone()[0] == 0


def _audit_of(db, tenant_id: int, *replaced: str) -> list[tuple[str, str, str, str, object]]:
    """The tenant's audit trail with what differs between two tenants (their id, name, directory) masked."""
    different = {*replaced, str(tenant_id)}

    def mask(value: object) -> object:
        if isinstance(value, dict):
            return {k: mask(v) for k, v in value.items()}
        same = value in different if isinstance(value, str) else type(value) is int and value == tenant_id
        return "<T>" if same else value

    rows = db.execute("SELECT action, resource_type, resource_id, status, metadata FROM audit_logs"
                      " WHERE tenant_id = %s ORDER BY id", (tenant_id,)).fetchall()
    return [(action, kind, ":".join(str(mask(part)) for part in resource_id.split(":")), status, mask(metadata))
            for action, kind, resource_id, status, metadata in rows]


def test_a_direct_change_writes_the_audit_event_the_api_writes(database_url, moto_server, db,
                                                               monkeypatch) -> None:
    """The same changes, once through the CLI's direct mode and once over the API as an administrator: the same
    events, action by action and field by field; only the actor differs (the operator, by login)."""
    from tests.support.lambdas import FakeContext, claims_for, http_event, load_function, response_json

    steps = [("add", "owner", "bob"), ("disable",), ("add", "owner", "carol"), ("remove", "bob")]
    assert direct("tenants", "add", "--name", "Direct Co", "--graph-tenant-id", "direct.example", "--client-id",
                  CLIENT_ID, "--client-secret-stdin", stdin=SECRET + "\n").returncode == 0
    direct_id = db.execute("SELECT id FROM tenants WHERE name = 'Direct Co'").fetchone()[0]
    for step in steps:
        if step[0] == "add":
            args = ["members", "add", "--tenant", str(direct_id), "--subject", step[2], "--role", step[1]]
        elif step[0] == "remove":
            args = ["members", "remove", "--tenant", str(direct_id), "--subject", step[1]]
        else:
            args = ["tenants", "disable", str(direct_id)]
        assert direct(*args).returncode == 0, args

    monkeypatch.setenv("ADMIN_GROUP_ID", "admins")
    api = load_function("dispatch")
    claims = {**claims_for("root", "root@contoso.com", "Root"), "groups": "[admins]"}

    def call(method: str, path: str, body: object = None) -> object:
        answer = api.lambda_handler(http_event(method, path, body=body, claims=claims), FakeContext())
        assert answer["statusCode"] < 300, response_json(answer)
        return response_json(answer)

    api_id = call("POST", "/tenants", {"name": "Api Co", "graph_tenant_id": "api.example",
                                       "credential": {"client_id": CLIENT_ID, "client_secret": SECRET}})["id"]
    users = {}
    for step in steps:
        if step[0] == "add":
            users[step[2]] = call("PUT", f"/tenants/{api_id}/members", {"subject": step[2], "role": step[1]})["user_id"]
        elif step[0] == "remove":
            call("DELETE", f"/tenants/{api_id}/members/{users[step[1]]}")
        else:
            call("PATCH", f"/tenants/{api_id}", {"status": "inactive"})

    over_api = _audit_of(db, api_id, "Api Co", "api.example")
    assert [e[0] for e in over_api] == ["tenant.created", "tenant.credential.set", "membership.added",
                                        "tenant.updated", "membership.added", "membership.removed"]
    assert _audit_of(db, direct_id, "Direct Co", "direct.example") == over_api
    actors = db.execute("SELECT DISTINCT actor_type, actor_name FROM audit_logs WHERE tenant_id = %s",
                        (direct_id,)).fetchall()
    assert actors == [("user", f"{getpass.getuser()} (invsync direct mode)")]
    assert db.execute("SELECT subject FROM users WHERE name = %s", (actors[0][1],)).fetchone() == (OPERATOR,)


def test_check_reports_forbidden_types_and_the_permission_to_grant(server_env) -> None:
    env = server_env
    env.graph.set_fault("mobileApp", Fault(status=403))
    env.graph.set_fault("deviceShellScript", Fault(status=403))
    # the check is for the tenant's owners: the operator of the direct mode becomes one first
    assert direct("members", "add", "--tenant", str(env.tenant.id), "--subject", OPERATOR, "--role", "owner"
                  ).returncode == 0
    result = direct("tenants", "check", str(env.tenant.id))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "forbidden" in lines["mobileApp"] and "DeviceManagementApps.Read.All" in lines["mobileApp"]
    assert "forbidden" in lines["deviceShellScript"] and "DeviceManagementScripts.Read.All" in lines[
        "deviceShellScript"]
    assert "reachable" in lines["deviceConfiguration"]
    assert "DeviceManagementApps.Read.All" in result.stdout.splitlines()[-1]
    env.graph.clear_faults()
    ok = direct("tenants", "check", str(env.tenant.id))
    assert ok.returncode == 0, ok.stdout
    env.graph.tenants[env.graph_tenant_id].client_secret = "changed"
    env.graph.tokens.clear()
    broken = direct("tenants", "check", str(env.tenant.id))
    assert broken.returncode == 2 and "graph_auth_failed" in broken.stdout


@pytest.mark.parametrize("role", ["operator", "reader"])
def test_permission_check_route_is_for_owners(env, role) -> None:
    from tests.support import factories

    factories.member(env.db, env.tenant.id, f"u-{role}", role)
    status, _ = env.pipeline.api("GET", f"/tenants/{env.tenant.id}/permission-check", subject=f"u-{role}")
    assert status == 403


def test_permission_check_route_answers_owners_and_caches(env) -> None:
    from tests.support import factories

    factories.member(env.db, env.tenant.id, "olivia", "owner")
    env.graph.set_fault("policySet", Fault(status=403))
    status, report = env.pipeline.api("GET", f"/tenants/{env.tenant.id}/permission-check", subject="olivia")
    assert status == 200 and report["ok"] is False
    assert report["missing_permissions"] == ["DeviceManagementConfiguration.Read.All"]
    results = {p["key"]: p["result"] for p in report["probes"]}
    assert results["policySet"] == "forbidden" and results["deviceConfiguration"] == "reachable"
    assert len(results) == 35
    before = env.graph.count("graph_requests")
    status, again = env.pipeline.api("GET", f"/tenants/{env.tenant.id}/permission-check", subject="olivia")
    assert again == report and env.graph.count("graph_requests") == before  # from the cache
    env.graph.clear_faults()
    status, fresh = env.pipeline.api("GET", f"/tenants/{env.tenant.id}/permission-check", subject="olivia",
                                     query={"refresh": "true"})
    assert fresh["ok"] is True and env.graph.count("graph_requests") > before


def _self_signed(tmp_path: Path) -> tuple[Path, str]:
    cert_pem, key_pem, _ = factories.self_signed_certificate()
    path = tmp_path / "app.pem"
    path.write_text(cert_pem + key_pem)
    return path, cert_pem


def test_certificate_tenant_syncs_with_a_signed_client_assertion(server_env, tmp_path) -> None:
    env = server_env
    pem_file, cert_pem = _self_signed(tmp_path)
    gid = "cert-tenant.onmicrosoft.com"
    standin_tenant = env.graph.add_tenant(gid, CLIENT_ID, "no-secret-for-this-one",
                                          counts={"deviceConfiguration": 12, "mobileApp": 5})
    standin_tenant.certificate_pem = cert_pem
    added = direct("tenants", "add", "--name", "CertCo", "--graph-tenant-id", gid, "--client-id", CLIENT_ID,
                   "--certificate", str(pem_file))
    assert added.returncode == 0, added.stderr
    assert "PRIVATE KEY" not in added.stdout + added.stderr
    tenant_id = env.db.execute("SELECT id FROM tenants WHERE name = 'CertCo'").fetchone()[0]
    assert direct("members", "add", "--tenant", str(tenant_id), "--subject", "alice", "--role", "operator"
                  ).returncode == 0
    before = env.graph.count("token_requests")
    bulk = env.pipeline.dispatch(tenant_id, {"policy_types": ["deviceConfiguration", "mobileApp"],
                                             "include_foundations": False})
    env.pipeline.run_all()
    row = env.db.execute("SELECT status, items_observed_count FROM inventory_sync_runs WHERE bulk_operation_run_id"
                         " = %s", (bulk["bulk_operation_run"]["id"],)).fetchone()
    assert row == ("success", 17)
    assert env.graph.count("token_requests") - before == 1
    # a different key is refused: graph_auth_failed
    other_file, _ = _self_signed(tmp_path / "other") if (tmp_path / "other").mkdir() is None else (None, None)
    assert direct("tenants", "set-secret", str(tenant_id), "--certificate", str(other_file)).returncode == 0
    env.pipeline.rewire()  # forget the cached credential and token
    bulk = env.pipeline.dispatch(tenant_id, {"policy_types": ["deviceConfiguration"]})
    env.pipeline.run_all()
    row = env.db.execute("SELECT status, error_codes FROM inventory_sync_runs WHERE bulk_operation_run_id = %s",
                         (bulk["bulk_operation_run"]["id"],)).fetchone()
    assert row == ("failed", ["graph_auth_failed"])


@contextlib.contextmanager
def _local_stack(pg, tmp_path: Path, workers: int):
    """The local stack (HTTP API, moto, Graph stand-in) on a database of its own, as a deployed stack would
    be seen from a laptop: the CLI gets its URL and a token, not the database."""
    import uuid

    from invsync_dev.local.embedded_pg import free_port
    from invsync_dev.local.stack import LocalStack

    name = f"invsync_cli_api_{uuid.uuid4().hex[:8]}"
    url = pg.create(name, template="invsync_template")
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()  # moto servers in one process share their state: start from none
    saved = dict(os.environ)  # the stack points the process environment at itself; put it back afterwards
    os.environ["DATABASE_URL"] = url
    stack = LocalStack(tmp_path / "data", api_port=free_port(), aws_port=free_port(), run_workers=workers,
                       sweep_every=3600).start()
    try:
        yield stack, stack.ensure_demo(), url
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)
        pg.drop(name)


@pytest.fixture
def live_stack(pg, template_url, tmp_path: Path):
    with _local_stack(pg, tmp_path, workers=0) as running:
        yield running


def test_sync_wait_exits_with_how_the_sync_ended(pg, template_url, tmp_path: Path) -> None:
    """`invsync sync --wait` for scripts: 0 success, 3 partial (a missing permission), 4 failed (the others, by
    the same mapping, in tests/unit/test_cli.py); no token needed against the local stack (its development key
    signs one); timestamps printed with their offset."""
    with _local_stack(pg, tmp_path, workers=1) as (stack, demo, _url):
        local = {"INVSYNC_API_URL": stack.api.url, "INVSYNC_TOKEN": "", "INVSYNC_DATA_DIR": str(tmp_path / "data")}
        tenant = str(demo.tenant_id)
        ok = invsync("sync", "--tenant", tenant, "--wait", "--policy-type", "deviceConfiguration", env=local)
        assert ok.returncode == 0 and "success: run" in ok.stdout, ok.stdout + ok.stderr
        stack.graph.set_fault("mobileApp", Fault(status=403))
        partial = invsync("sync", "--tenant", tenant, "--wait", "--policy-type", "deviceConfiguration",
                          "--policy-type", "mobileApp", env=local)
        assert partial.returncode == 3, partial.stdout + partial.stderr
        assert "partial: run" in partial.stdout and "grant the app DeviceManagementApps.Read.All" in partial.stdout
        assert invsync("tenants", "disable", tenant, env=local).returncode == 0  # its next run fails at once
        failed = invsync("sync", "--tenant", tenant, "--wait", "--policy-type", "mobileApp", env=local)
        assert failed.returncode == 4 and "failed: run" in failed.stdout, failed.stdout + failed.stderr
        assert "tenant_inactive" in failed.stdout
        runs = invsync("runs", "--tenant", tenant, env=local)
        assert runs.returncode == 0 and len(re.findall(r"T\d\d:\d\d:\d\d\+00:00", runs.stdout)) == 3, runs.stdout
        unknown = invsync("sync", "--tenant", "99999", env=local)
        assert unknown.returncode == 1 and unknown.stderr.strip() == "invsync: Not Found: tenant 99999 not found"


def test_the_same_commands_over_the_api(live_stack) -> None:
    """`--api-url`/`--token` (here through INVSYNC_API_URL / INVSYNC_TOKEN): no database in reach."""
    import psycopg

    stack, demo, url = live_stack
    remote = {"INVSYNC_API_URL": stack.api.url, "INVSYNC_TOKEN": demo.token, "DATABASE_URL": ""}
    client_id = "0b9e6a4c-1f2d-4e3a-9b8c-7d6e5f4a3b2c"
    added = invsync("tenants", "add", "--name", "Fabrikam", "--graph-tenant-id", "fabrikam.onmicrosoft.com",
                    "--client-id", client_id, "--client-secret-stdin", stdin=SECRET + "\n", env=remote)
    assert added.returncode == 0, added.stdout + added.stderr
    assert SECRET not in added.stdout + added.stderr
    with psycopg.connect(url, autocommit=True) as db:
        tenant_id = db.execute("SELECT id FROM tenants WHERE name = 'Fabrikam'").fetchone()[0]
        secrets = boto3.client("secretsmanager", endpoint_url=stack.env["AWS_ENDPOINT_URL"])
        stored = secrets.get_secret_value(SecretId=f"inventory-sync/tenants/{tenant_id}")
        assert json.loads(stored["SecretString"]) == {"client_secret": SECRET}

        listed = invsync("tenants", "list", env=remote)
        assert "Fabrikam" in listed.stdout and "Contoso (demo)" in listed.stdout, listed.stderr
        assert invsync("members", "add", "--tenant", str(tenant_id), "--subject", "bob", "--role", "owner",
                       env=remote).returncode == 0
        shown = invsync("tenants", "show", str(tenant_id), env=remote)
        assert "bob" in shown.stdout and "owner" in shown.stdout and client_id in shown.stdout
        assert invsync("tenants", "disable", str(tenant_id), env=remote).returncode == 0
        assert invsync("tenants", "schedule", str(tenant_id), "off", env=remote).returncode == 0
        assert db.execute("SELECT status, scheduled_sync_enabled FROM tenants WHERE id = %s",
                          (tenant_id,)).fetchone() == ("inactive", False)
        rotated = invsync("tenants", "set-secret", str(tenant_id), "--client-secret-stdin", stdin="new-secret\n",
                          env=remote)
        assert rotated.returncode == 0 and "new-secret" not in rotated.stdout + rotated.stderr
        stored = secrets.get_secret_value(SecretId=f"inventory-sync/tenants/{tenant_id}")
        assert json.loads(stored["SecretString"]) == {"client_secret": "new-secret"}
        assert invsync("members", "add", "--tenant", str(tenant_id), "--subject", "carol", "--role", "owner",
                       env=remote).returncode == 0
        assert invsync("members", "remove", "--tenant", str(tenant_id), "--subject", "bob",
                       env=remote).returncode == 0
        assert [r[0] for r in db.execute("SELECT u.subject FROM tenant_memberships m JOIN users u ON u.id ="
                                         " m.user_id WHERE m.tenant_id = %s", (tenant_id,))] == ["carol"]
        actions = [r[0] for r in db.execute("SELECT action FROM audit_logs WHERE tenant_id = %s ORDER BY id",
                                            (tenant_id,))]
        assert actions == ["tenant.created", "tenant.credential.set", "membership.added", "tenant.updated",
                           "tenant.updated", "tenant.credential.set", "membership.added", "membership.removed"]
        assert invsync("tenants", "show", "99999", env=remote).returncode != 0

        # someone who administers nothing: refused by the API, nothing written
        stranger = stack.signer.token("stranger", "stranger@contoso.com", "Stranger")
        refused = invsync("tenants", "add", "--name", "Nope", "--graph-tenant-id", "nope.onmicrosoft.com",
                          "--client-id", client_id, "--client-secret-stdin", stdin=SECRET + "\n",
                          env={**remote, "INVSYNC_TOKEN": stranger})
        assert refused.returncode == 1 and "Forbidden: only platform administrators" in refused.stderr
        assert SECRET not in refused.stdout + refused.stderr
        assert db.execute("SELECT count(*) FROM tenants WHERE name = 'Nope'").fetchone()[0] == 0


def test_a_taken_directory_is_refused_by_the_cli_too(database_url, moto_server, db) -> None:
    first = factories.tenant(db, "First", graph_tenant_id="taken.onmicrosoft.com")
    result = direct("tenants", "add", "--name", "Second", "--graph-tenant-id", "taken.onmicrosoft.com",
                    "--client-id", CLIENT_ID, "--client-secret-stdin", stdin=SECRET + "\n")
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == "invsync: Conflict: a tenant is already onboarded on this directory"
    assert db.execute("SELECT count(*) FROM tenants").fetchone()[0] == 1
    assert boto3.client("secretsmanager").list_secrets()["SecretList"] == []
    older = factories.tenant(db, "Older", status="inactive", graph_tenant_id="older.onmicrosoft.com")
    db.execute("UPDATE tenants SET graph_tenant_id = 'taken.onmicrosoft.com' WHERE id = %s", (older.id,))
    enabled = direct("tenants", "enable", str(older.id))
    assert enabled.returncode == 1
    assert enabled.stderr.strip() == "invsync: Conflict: another active tenant is onboarded on this directory"
    assert db.execute("SELECT status FROM tenants WHERE id = %s", (older.id,)).fetchone() == ("inactive",)
    assert first.status == "active"
