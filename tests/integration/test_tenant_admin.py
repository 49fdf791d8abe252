"""Operating a deployed stack over its API: platform administrators onboard tenants, owners manage their
credential and members, everyone else is refused and nothing is written."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qsl

import boto3
import psycopg
import pytest

from tests.support import factories
from tests.support.lambdas import FakeContext, claims_for, http_event, load_function, new_environment, response_json
from tests.support.pipeline import Pipeline

ADMIN_GROUP = "8f1c2d3e-0000-4000-8000-0000000000ad"
SECRET = "onboarding-secret-value-123"  # in the suite's log-hygiene scan
CLIENT_ID = "0b9e6a4c-1f2d-4e3a-9b8c-7d6e5f4a3b2c"


@pytest.fixture
def api(stack: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ADMIN_GROUP_ID", ADMIN_GROUP)
    return load_function("dispatch")


def call(api, method: str, path: str, subject: str, body: Any = None, groups: Any = None,
         roles: Any = None) -> tuple[int, Any, dict[str, str]]:
    claims: dict[str, Any] = claims_for(subject, f"{subject}@contoso.com", subject.title())
    if groups is not None:
        claims["groups"] = groups
    if roles is not None:
        claims["roles"] = roles
    path, _, query = path.partition("?")
    response = api.lambda_handler(http_event(method, path, body=body, claims=claims,
                                             query=dict(parse_qsl(query)) or None), FakeContext())
    return response["statusCode"], response_json(response), response.get("headers") or {}


def as_admin(api, method: str, path: str, body: Any = None, subject: str = "root") -> tuple[int, Any, dict]:
    # the form API Gateway's JWT authorizer passes an array claim on in: one string
    return call(api, method, path, subject, body, groups=f"[3a7e0c11-aaaa-4bbb-8ccc-000000000001 {ADMIN_GROUP}]")


def new_tenant(name: str = "Fabrikam", directory: str | None = None, secret: str = SECRET) -> dict[str, Any]:
    return {"name": name, "graph_tenant_id": directory or f"{uuid.uuid4().hex[:10]}.onmicrosoft.com",
            "credential": {"client_id": CLIENT_ID, "client_secret": secret}}


def _rows(db: psycopg.Connection, sql: str, *args: Any) -> list[tuple]:
    return db.execute(sql, args).fetchall()


def _secret_of(tenant_id: int) -> dict[str, str]:
    value = boto3.client("secretsmanager").get_secret_value(SecretId=f"inventory-sync/tenants/{tenant_id}")
    return json.loads(value["SecretString"])


def test_an_administrator_onboards_a_tenant_that_then_syncs(api, db: psycopg.Connection, stack, graph) -> None:
    directory = f"fabrikam-{uuid.uuid4().hex[:8]}.onmicrosoft.com"
    graph.add_tenant(directory, CLIENT_ID, SECRET)

    status, tenant, headers = as_admin(api, "POST", "/tenants", new_tenant(directory=directory))
    assert status == 201, tenant
    assert headers["Location"] == f"/tenants/{tenant['id']}"
    assert tenant["graph_tenant_id"] == directory and tenant["graph_client_id"] == CLIENT_ID
    assert tenant["status"] == "active" and tenant["scheduled_sync_enabled"] is True and tenant["role"] is None
    assert _secret_of(tenant["id"]) == {"client_secret": SECRET}

    status, member, _ = as_admin(api, "PUT", f"/tenants/{tenant['id']}/members",
                                 {"subject": "olivia", "email": "olivia@fabrikam.com", "role": "owner"})
    assert status == 201 and member["role"] == "owner" and member["subject"] == "olivia"

    # the new owner sees the tenant with their role and syncs it through the API
    status, mine, _ = call(api, "GET", "/tenants", "olivia")
    assert status == 200 and [(t["id"], t["role"]) for t in mine["items"]] == [(tenant["id"], "owner")]
    pipeline = Pipeline(stack, dispatch_fn=api)
    op = pipeline.dispatch(tenant["id"], subject="olivia")
    pipeline.run_all()
    status, done, _ = call(api, "GET", f"/bulk-operations/{op['bulk_operation_run']['id']}", "olivia")
    assert done["status"] == "completed", done
    assert done["run"]["items_observed_count"] > 0 and done["run"]["error_codes"] == []

    trail = _rows(db, "SELECT action, resource_type, resource_id, actor_type, actor_email, metadata FROM audit_logs"
                      " WHERE tenant_id = %s AND action LIKE ANY (ARRAY['tenant.%%', 'membership.%%']) ORDER BY id",
                  tenant["id"])
    assert [(a, rt) for a, rt, *_ in trail] == [("tenant.created", "tenant"), ("tenant.credential.set", "tenant"),
                                                ("membership.added", "tenant_membership")]
    assert all(r[3] == "user" and r[4] == "root@contoso.com" for r in trail)  # the actor's snapshot
    assert trail[1][5] == {"client_id": CLIENT_ID, "kind": "client_secret"}
    assert trail[2][5]["role"] == "owner" and trail[2][5]["subject"] == "olivia"


def test_admin_is_read_from_groups_or_roles_in_either_form(api) -> None:
    body = new_tenant
    assert call(api, "POST", "/tenants", "a", body("A"), groups=[ADMIN_GROUP])[0] == 201  # a JSON array
    assert call(api, "POST", "/tenants", "b", body("B"), roles=f"[{ADMIN_GROUP}]")[0] == 201  # an app role
    assert call(api, "POST", "/tenants", "c", body("C"), groups=ADMIN_GROUP)[0] == 201  # a lone value
    assert call(api, "POST", "/tenants", "d", body("D"), groups=f"[{ADMIN_GROUP}x other]")[0] == 403


def test_a_non_administrator_gets_403_and_nothing_is_written(api, db: psycopg.Connection) -> None:
    tenant = factories.tenant(db)
    factories.member(db, tenant.id, "oscar", "owner")
    before = _rows(db, "SELECT count(*) FROM tenants UNION ALL SELECT count(*) FROM audit_logs")

    status, problem, _ = call(api, "POST", "/tenants", "oscar", new_tenant(), groups="[some-other-group]")
    assert status == 403 and problem["title"] == "Forbidden"
    status, _, _ = call(api, "PATCH", f"/tenants/{tenant.id}", "oscar", {"name": "Renamed"})
    assert status == 403  # owners manage members and credential, not the tenant itself
    assert call(api, "PATCH", f"/tenants/{tenant.id}", "stranger", {"name": "Renamed"})[0] == 404
    assert _rows(db, "SELECT count(*) FROM tenants UNION ALL SELECT count(*) FROM audit_logs") == before
    assert _rows(db, "SELECT name FROM tenants WHERE id = %s", tenant.id) == [("Contoso",)]
    names = [s["Name"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"]]
    assert not [n for n in names if n.startswith("inventory-sync/tenants/")]


def test_an_owner_adds_an_operator_who_can_then_dispatch(api, db: psycopg.Connection, stack) -> None:
    tenant = factories.tenant(db)
    factories.member(db, tenant.id, "oscar", "owner")
    factories.member(db, tenant.id, "rita", "reader")
    pipeline = Pipeline(stack, dispatch_fn=api)
    status, _ = pipeline.api("POST", f"/tenants/{tenant.id}/inventory-syncs", subject="paul", body={})
    assert status == 404  # not a member yet

    status, member, _ = call(api, "PUT", f"/tenants/{tenant.id}/members", "oscar",
                             {"subject": "paul", "name": "Paul", "role": "operator"})
    assert status == 201 and member["role"] == "operator" and member["name"] == "Paul"
    assert pipeline.dispatch(tenant.id, subject="paul")["bulk_operation_run"]["status"] == "pending"

    # a reader manages nothing; a stranger does not see the tenant
    assert call(api, "PUT", f"/tenants/{tenant.id}/members", "rita", {"subject": "x", "role": "owner"})[0] == 403
    assert call(api, "GET", f"/tenants/{tenant.id}/members", "rita")[0] == 403
    assert call(api, "GET", f"/tenants/{tenant.id}/members", "stranger")[0] == 404
    assert call(api, "GET", f"/tenants/{tenant.id}", "stranger")[0] == 404

    # changing a role, then removing the member, each audited once
    status, member, _ = call(api, "PUT", f"/tenants/{tenant.id}/members", "oscar",
                             {"subject": "paul", "role": "reader"})
    assert status == 200 and member["role"] == "reader"
    assert call(api, "PUT", f"/tenants/{tenant.id}/members", "oscar", {"subject": "paul", "role": "reader"})[0] == 200
    status, _, _ = call(api, "DELETE", f"/tenants/{tenant.id}/members/{member['user_id']}", "oscar")
    assert status == 204
    assert call(api, "DELETE", f"/tenants/{tenant.id}/members/{member['user_id']}", "oscar")[0] == 404
    actions = [r[0] for r in _rows(db, "SELECT action FROM audit_logs WHERE resource_type = 'tenant_membership'"
                                       " AND tenant_id = %s ORDER BY id", tenant.id)]
    assert actions == ["membership.added", "membership.changed", "membership.removed"]
    status, listed, _ = call(api, "GET", f"/tenants/{tenant.id}/members", "oscar")
    assert sorted((m["subject"], m["role"]) for m in listed["items"]) == [("oscar", "owner"), ("rita", "reader")]


def test_a_tenant_keeps_an_owner(api, db: psycopg.Connection) -> None:
    tenant = factories.tenant(db)
    oscar = factories.member(db, tenant.id, "oscar", "owner")
    status, problem, _ = call(api, "PUT", f"/tenants/{tenant.id}/members", "oscar", {"subject": "oscar",
                                                                                     "role": "reader"})
    assert status == 409 and "owner" in problem["detail"]
    assert call(api, "DELETE", f"/tenants/{tenant.id}/members/{oscar.id}", "oscar")[0] == 409
    assert _rows(db, "SELECT role FROM tenant_memberships WHERE tenant_id = %s", tenant.id) == [("owner",)]


def test_an_administrator_renames_disables_and_unschedules(api, db: psycopg.Connection) -> None:
    _, tenant, _ = as_admin(api, "POST", "/tenants", new_tenant())
    status, changed, _ = as_admin(api, "PATCH", f"/tenants/{tenant['id']}",
                                  {"name": "Fabrikam EU", "status": "inactive", "scheduled_sync_enabled": False})
    assert status == 200
    assert (changed["name"], changed["status"], changed["scheduled_sync_enabled"]) == ("Fabrikam EU", "inactive",
                                                                                         False)
    event = _rows(db, "SELECT metadata FROM audit_logs WHERE action = 'tenant.updated' AND tenant_id = %s",
                  tenant["id"])
    assert event == [({"changes": {"name": {"from": "Fabrikam", "to": "Fabrikam EU"},
                                   "scheduled_sync_enabled": {"from": True, "to": False},
                                   "status": {"from": "active", "to": "inactive"}}},)]
    # a PATCH that changes nothing records nothing
    assert as_admin(api, "PATCH", f"/tenants/{tenant['id']}", {"status": "inactive"})[0] == 200
    assert len(_rows(db, "SELECT 1 FROM audit_logs WHERE action = 'tenant.updated'")) == 1
    for bad in ({}, {"status": "paused"}, {"name": ""}, {"name": None}, {"owner": "x"}, {"name": 5}):
        assert as_admin(api, "PATCH", f"/tenants/{tenant['id']}", bad)[0] == 422, bad
    status, page, _ = as_admin(api, "GET", "/tenants?limit=1")
    assert status == 200 and page["items"][0]["name"] == "Fabrikam EU" and page["next_cursor"] is None


def test_listing_tenants_pages_and_shows_only_the_callers_own(api, db: psycopg.Connection) -> None:
    ids = [as_admin(api, "POST", "/tenants", new_tenant(f"T{i}"))[1]["id"] for i in range(3)]
    factories.member(db, ids[1], "mia", "reader")
    seen, cursor = [], None
    while True:
        path = "/tenants?limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, page, _ = as_admin(api, "GET", path)
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids
    assert [t["id"] for t in call(api, "GET", "/tenants", "mia")[1]["items"]] == [ids[1]]
    assert call(api, "GET", "/tenants", "nobody")[1]["items"] == []


def test_the_credential_is_never_echoed_logged_stored_or_audited(api, db: psycopg.Connection,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    status, tenant, _ = as_admin(api, "POST", "/tenants", new_tenant())
    answers = [json.dumps(tenant)]
    factories.member(db, tenant["id"], "oscar", "owner")
    rotated = "onboarding-secret-value-123-rotated"
    status, body, _ = call(api, "PUT", f"/tenants/{tenant['id']}/credential", "oscar",
                           {"client_id": CLIENT_ID, "client_secret": rotated})
    assert status == 204 and body is None
    assert _secret_of(tenant["id"]) == {"client_secret": rotated}
    # invalid bodies carrying a secret: refused without echoing it
    for bad in ({"client_id": "not-a-guid", "client_secret": SECRET},
                {"client_id": CLIENT_ID, "client_secret": SECRET, "certificate_pem": "x", "private_key_pem": SECRET},
                {"client_id": CLIENT_ID, "client_secret": SECRET, "extra": SECRET}):
        status, problem, _ = call(api, "PUT", f"/tenants/{tenant['id']}/credential", "oscar", bad)
        assert status == 422
        answers.append(json.dumps(problem))
    status, problem, _ = as_admin(api, "POST", "/tenants", {**new_tenant(), "graph_tenant_id": "not a domain"})
    assert status == 422
    answers.append(json.dumps(problem))

    stored = json.dumps(_rows(db, "SELECT row_to_json(t) FROM tenants t")) + json.dumps(
        _rows(db, "SELECT row_to_json(a) FROM audit_logs a"), default=str)
    for text in (*answers, stored, caplog.text):
        assert SECRET not in text and rotated not in text
    kinds = _rows(db, "SELECT metadata FROM audit_logs WHERE action = 'tenant.credential.set' ORDER BY id")
    assert [k[0]["kind"] for k in kinds] == ["client_secret", "client_secret"]


def test_a_certificate_credential_is_checked_and_audited_by_thumbprint(api, db: psycopg.Connection) -> None:
    cert_pem, key_pem, thumbprint = factories.self_signed_certificate("inventory-sync", days=30)
    _, other_key, _ = factories.self_signed_certificate("inventory-sync", days=30)
    _, tenant, _ = as_admin(api, "POST", "/tenants", new_tenant())
    path = f"/tenants/{tenant['id']}/credential"
    mismatched = {"client_id": CLIENT_ID, "certificate_pem": cert_pem, "private_key_pem": other_key}
    status, problem, _ = as_admin(api, "PUT", path, mismatched)
    assert status == 422 and "does not belong" in json.dumps(problem) and "PRIVATE KEY" not in json.dumps(problem)
    status, _, _ = as_admin(api, "PUT", path, {"client_id": CLIENT_ID, "certificate_pem": cert_pem,
                                               "private_key_pem": key_pem})
    assert status == 204
    assert _secret_of(tenant["id"]) == {"certificate_pem": cert_pem, "private_key_pem": key_pem}
    meta = _rows(db, "SELECT metadata FROM audit_logs WHERE action = 'tenant.credential.set' ORDER BY id DESC"
                     " LIMIT 1")[0][0]
    assert meta == {"client_id": CLIENT_ID, "kind": "certificate",
                    "certificate_thumbprint_sha256": thumbprint}


def test_a_secrets_manager_failure_leaves_no_half_onboarded_tenant(api, db: psycopg.Connection,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _, kept, _ = as_admin(api, "POST", "/tenants", new_tenant("Kept"))
    audit_before = _rows(db, "SELECT count(*) FROM audit_logs")
    # Secrets Manager unreachable from here on (nothing listens on that port; no retries)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    new_environment(api)  # its Secrets Manager client is made afresh

    status, problem, _ = as_admin(api, "POST", "/tenants", new_tenant("Lost"))
    assert status == 503 and "nothing was changed" in problem["detail"]
    assert [r[0] for r in _rows(db, "SELECT name FROM tenants ORDER BY id")] == ["Kept"]

    status, problem, _ = as_admin(api, "PUT", f"/tenants/{kept['id']}/credential",
                                  {"client_id": "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", "client_secret": "x-other"})
    assert status == 503
    assert _rows(db, "SELECT graph_client_id FROM tenants WHERE id = %s", kept["id"]) == [(CLIENT_ID,)]
    assert _rows(db, "SELECT count(*) FROM audit_logs") == audit_before


def test_a_member_put_never_rewrites_another_users_profile(api, db: psycopg.Connection) -> None:
    """The users row is shared by every tenant a user belongs to: an owner of A naming B's owner with another
    email and name changes A's membership, never B's view of that user or B's audit trail."""
    a, b = factories.tenant(db, "A"), factories.tenant(db, "B")
    factories.member(db, a.id, "alice", "owner")
    bob = factories.member(db, b.id, "bob", "owner", email="bob@contoso.com", name="Bob")  # as his token says
    status, member, _ = call(api, "PUT", f"/tenants/{a.id}/members", "alice",
                             {"subject": "bob", "email": "ceo@attacker.example", "name": "IT Security",
                              "role": "reader"})
    assert status == 201 and member["role"] == "reader"
    assert (member["email"], member["name"]) == ("bob@contoso.com", "Bob")  # what bob's own token said
    assert _rows(db, "SELECT email, name FROM users WHERE id = %s", bob.id) == [("bob@contoso.com", "Bob")]
    _, listed, _ = call(api, "GET", f"/tenants/{b.id}/members", "bob")
    assert [(m["email"], m["name"]) for m in listed["items"]] == [("bob@contoso.com", "Bob")]
    # bob's next change from a token without email and name claims: the actor snapshot is his own profile
    response = api.lambda_handler(http_event("PUT", f"/tenants/{b.id}/members", claims=claims_for("bob"),
                                             body={"subject": "zoe", "role": "reader"}), FakeContext())
    assert response["statusCode"] == 201
    assert _rows(db, "SELECT actor_email, actor_name FROM audit_logs WHERE tenant_id = %s", b.id) == [
        ("bob@contoso.com", "Bob")]
    # a subject never seen is created with the profile the owner gave
    status, zed, _ = call(api, "PUT", f"/tenants/{a.id}/members", "alice",
                          {"subject": "zed", "email": "zed@a.example", "name": "Zed", "role": "reader"})
    assert status == 201 and (zed["email"], zed["name"]) == ("zed@a.example", "Zed")


def test_a_directory_is_onboarded_once(api, db: psycopg.Connection) -> None:
    directory = f"fabrikam-{uuid.uuid4().hex[:8]}.onmicrosoft.com"
    status, first, _ = as_admin(api, "POST", "/tenants", new_tenant("First", directory=directory))
    assert status == 201
    before = _rows(db, "SELECT (SELECT count(*) FROM tenants), (SELECT count(*) FROM audit_logs)")
    for spelling in (directory, directory.upper()):
        status, problem, _ = as_admin(api, "POST", "/tenants", new_tenant("Second", directory=spelling,
                                                                          secret="guessed-secret-456"))
        assert status == 409 and problem["detail"] == "a tenant is already onboarded on this directory"
    assert _rows(db, "SELECT (SELECT count(*) FROM tenants), (SELECT count(*) FROM audit_logs)") == before
    names = [s["Name"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"]]
    assert names == [f"inventory-sync/tenants/{first['id']}"]
    # an older tenant made inactive keeps the directory: onboarding it again is refused, as is a second active
    as_admin(api, "PATCH", f"/tenants/{first['id']}", {"status": "inactive"})
    assert as_admin(api, "POST", "/tenants", new_tenant("Third", directory=directory))[0] == 409
    other = factories.tenant(db, "Other", status="inactive")
    db.execute("UPDATE tenants SET graph_tenant_id = %s WHERE id = %s", (directory, other.id))
    assert as_admin(api, "PATCH", f"/tenants/{other.id}", {"status": "active"})[0] == 200
    assert as_admin(api, "PATCH", f"/tenants/{first['id']}", {"status": "active"})[0] == 409
    assert _rows(db, "SELECT status FROM tenants WHERE id = %s", first["id"]) == [("inactive",)]


def test_a_changed_credential_stops_the_old_token_at_once(api, db: psycopg.Connection, stack, graph) -> None:
    """The token cache is keyed on the credential (a fingerprint of it): a wrong secret for a directory and
    client id whose token is cached gets no token; the permission check after a change probes with the new one."""
    directory = f"fabrikam-{uuid.uuid4().hex[:8]}.onmicrosoft.com"
    graph.add_tenant(directory, CLIENT_ID, SECRET)
    _, tenant, _ = as_admin(api, "POST", "/tenants", new_tenant(directory=directory))
    factories.member(db, tenant["id"], "oscar", "owner")
    path = f"/tenants/{tenant['id']}/permission-check"
    status, report, _ = call(api, "GET", path, "oscar")
    assert status == 200 and report["token_error"] is None, report

    status, _, _ = call(api, "PUT", f"/tenants/{tenant['id']}/credential", "oscar",
                        {"client_id": CLIENT_ID, "client_secret": "a-wrong-secret-789"})
    assert status == 204
    status, report, _ = call(api, "GET", path, "oscar")
    assert status == 200 and report["token_error"] is not None and "graph_auth_failed" in report["token_error"]
    # and back: the right secret is a token again
    call(api, "PUT", f"/tenants/{tenant['id']}/credential", "oscar", {"client_id": CLIENT_ID, "client_secret": SECRET})
    assert call(api, "GET", path, "oscar")[1]["token_error"] is None


def test_a_wrong_secret_never_gets_the_token_cached_for_the_right_one(graph) -> None:
    from inventory_sync.adapters.graph.credentials import ClientSecretCredential
    from inventory_sync.adapters.graph.errors import GraphError
    from inventory_sync.adapters.graph.token import TokenProvider
    from inventory_sync.domain.error_codes import ErrorCode

    directory = f"contoso-{uuid.uuid4().hex[:8]}.onmicrosoft.com"
    graph.add_tenant(directory, CLIENT_ID, SECRET)
    tokens = TokenProvider(graph.base_url, graph.base_url)
    issued = tokens.token(directory, CLIENT_ID, ClientSecretCredential(SECRET))
    assert tokens.token(directory, CLIENT_ID, ClientSecretCredential(SECRET)) == issued and tokens.requests == 1
    with pytest.raises(GraphError) as refused:
        tokens.token(directory, CLIENT_ID, ClientSecretCredential("guessed-secret"))
    assert refused.value.code == ErrorCode.GRAPH_AUTH_FAILED and tokens.requests == 2
    assert SECRET not in repr(tokens.__dict__)  # keyed on a fingerprint, never the secret
    tokens.forget(directory.upper())
    assert tokens.token(directory, CLIENT_ID, ClientSecretCredential(SECRET)) and tokens.requests == 3


def _fail_commits_of(db: psycopg.Connection, action: str) -> None:
    """From now on a transaction that writes an audit row of `action` fails at COMMIT (a deferred constraint
    trigger): the commit itself fails, after every statement of the request succeeded."""
    db.execute("CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS"
               " $$ BEGIN RAISE EXCEPTION 'commit refused by the test'; END $$")
    db.execute(f"CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON audit_logs DEFERRABLE INITIALLY DEFERRED"
               f" FOR EACH ROW WHEN (NEW.action = '{action}') EXECUTE FUNCTION refuse_commit()")


def test_a_credential_change_that_does_not_commit_changes_neither(api, db: psycopg.Connection) -> None:
    _, tenant, _ = as_admin(api, "POST", "/tenants", new_tenant())
    factories.member(db, tenant["id"], "oscar", "owner")
    before = _rows(db, "SELECT (SELECT count(*) FROM audit_logs), (SELECT graph_client_id FROM tenants WHERE id = %s)",
                   tenant["id"])
    _fail_commits_of(db, "tenant.credential.set")

    other_client = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
    status, problem, _ = call(api, "PUT", f"/tenants/{tenant['id']}/credential", "oscar",
                              {"client_id": other_client, "client_secret": "never-committed-secret"})
    assert status == 503 and "nothing was changed" in problem["detail"]
    assert _rows(db, "SELECT (SELECT count(*) FROM audit_logs), (SELECT graph_client_id FROM tenants WHERE id = %s)",
                 tenant["id"]) == before
    assert _secret_of(tenant["id"]) == {"client_secret": SECRET}  # the previous value is current again
    # onboarding whose commit fails leaves no tenant and no secret
    status, _, _ = as_admin(api, "POST", "/tenants", new_tenant("Lost"))
    assert status == 503
    assert [r[0] for r in _rows(db, "SELECT name FROM tenants")] == ["Fabrikam"]
    names = [s["Name"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"]]
    assert names == [f"inventory-sync/tenants/{tenant['id']}"]

    db.execute("DROP TRIGGER refuse_commit ON audit_logs")
    assert call(api, "PUT", f"/tenants/{tenant['id']}/credential", "oscar",
                {"client_id": other_client, "client_secret": "committed-secret"})[0] == 204
    assert _secret_of(tenant["id"]) == {"client_secret": "committed-secret"}


def test_migration_0007_deactivates_later_tenants_on_a_taken_directory(fresh_database: str) -> None:
    """Rows from before the rule: the oldest active tenant of a directory keeps it, later ones become inactive
    with their audit event, and the index then holds."""
    from inventory_sync.db import migrate as migrations

    earlier = [m for m in migrations.available_migrations() if m.version < "0007"]
    rule = next(m for m in migrations.available_migrations() if m.version == "0007")
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        for migration in earlier:
            conn.execute(migration.sql)
        ids = [conn.execute("INSERT INTO tenants (name, graph_tenant_id, graph_client_id, status) VALUES"
                            " (%s, %s, 'c', %s) RETURNING id", row).fetchone()[0]
               for row in [("A", "shared.onmicrosoft.com", "active"), ("B", "Shared.onmicrosoft.com", "active"),
                           ("C", "shared.onmicrosoft.com", "inactive"), ("D", "own.onmicrosoft.com", "active"),
                           ("E", "shared.onmicrosoft.com", "active")]]
        conn.execute(rule.sql)
        assert _rows(conn, "SELECT name, status FROM tenants ORDER BY id") == [
            ("A", "active"), ("B", "inactive"), ("C", "inactive"), ("D", "active"), ("E", "inactive")]
        assert _rows(conn, "SELECT tenant_id, actor_type, action, metadata FROM audit_logs ORDER BY tenant_id") == [
            (tid, "system", "tenant.updated", {"changes": {"status": {"from": "active", "to": "inactive"}},
                                               "reason": "directory already onboarded", "directory_tenant_id": ids[0]})
            for tid in (ids[1], ids[4])]
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("UPDATE tenants SET status = 'active' WHERE id = %s", (ids[1],))


def test_taking_a_credential_back_never_undoes_a_later_change(stack) -> None:
    from inventory_sync.adapters.graph.credentials import CredentialStore

    store = CredentialStore("inventory-sync/tenants/")
    store.put(7, {"client_secret": "first"})
    second = store.put(7, {"client_secret": "second"})
    assert store.restore(second) and _secret_of(7) == {"client_secret": "first"}
    third = store.put(7, {"client_secret": "third"})
    store.put(7, {"client_secret": "fourth"})  # a later change, committed
    assert not store.restore(third) and _secret_of(7) == {"client_secret": "fourth"}
    assert "third" not in repr(third) and "fourth" not in repr(third)  # the previous value stays out of reprs
    new = store.put(8, {"client_secret": "new"})
    assert store.restore(new)
    assert [s["Name"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"]] == [
        "inventory-sync/tenants/7"]
