"""Claims under `sam local start-api` (no JWT authorizer there): the dispatch function verifies the dev
token itself, and only when SAM's local runtime is named (AWS_SAM_LOCAL=true) and a key is configured.
Everything else stays 401, as in AWS."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from inventory_sync.api import local_auth
from invsync_dev.local.dev_jwt import DevSigner
from tests.support import factories
from tests.support.lambdas import FakeContext, http_event, load_function, response_json


@pytest.fixture
def dispatch():
    return load_function("dispatch")


@pytest.fixture
def signer(tmp_path) -> DevSigner:
    return DevSigner(tmp_path / "dev-jwt-key.pem")


@pytest.fixture
def sam_local(monkeypatch: pytest.MonkeyPatch, signer: DevSigner):
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    monkeypatch.setenv("LOCAL_JWT_PUBLIC_KEY", signer.public_pem())


@pytest.fixture
def tenant(db, stack):
    tenant = factories.tenant(db)
    factories.member(db, tenant.id, "demo-operator", "operator", email="op@contoso.com")
    return tenant


def _call(dispatch, path: str, token: str | None, method: str = "GET", body=None):
    headers = {"authorization": f"Bearer {token}"} if token else {}
    # as `sam local start-api` builds it: no requestContext.authorizer
    return dispatch.lambda_handler(http_event(method, path, body=body, headers=headers), FakeContext())


def _token(key, **overrides) -> str:
    now = int(time.time())
    claims = {"iss": local_auth.ISSUER, "aud": local_auth.AUDIENCE, "sub": "demo-operator",
              "email": "op@contoso.com", "iat": now, "exp": now + 600, **overrides}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm="RS256")


def test_a_verified_dev_token_dispatches_under_sam_local(dispatch, db, tenant, signer, sam_local, capsys) -> None:
    token = signer.token("demo-operator", "op@contoso.com", "Demo Operator")
    response = _call(dispatch, f"/tenants/{tenant.id}/inventory-syncs", token, "POST", {"policy_types": ["mobileApp"]})
    assert response["statusCode"] == 202, response
    op = response_json(response)["bulk_operation_run"]
    actor = db.execute("SELECT u.subject, a.actor_email FROM audit_logs a JOIN users u ON u.id = a.actor_id"
                       " WHERE a.id = %s", (op["audit_log_id"],)).fetchone()
    assert actor == ("demo-operator", "op@contoso.com")
    out = capsys.readouterr()
    assert token not in out.out + out.err


@pytest.mark.parametrize("case", ["expired", "wrong-audience", "wrong-issuer", "other-key", "no-subject",
                                  "alg-none", "not-a-jwt", "no-token"])
def test_anything_but_a_valid_dev_token_is_401(dispatch, db, tenant, signer, sam_local, tmp_path, case) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    mine = serialization.load_pem_private_key((tmp_path / "dev-jwt-key.pem").read_bytes(), password=None)
    assert local_auth.verify(_token(mine), local_auth.public_key())  # the same key signs a valid token
    token = {
        "expired": lambda: _token(mine, exp=int(time.time()) - 120),
        "wrong-audience": lambda: _token(mine, aud="api://someone-else"),
        "wrong-issuer": lambda: _token(mine, iss="https://evil.example"),
        "other-key": lambda: _token(other),
        "no-subject": lambda: _token(mine, sub=None),
        "alg-none": lambda: jwt.encode({"iss": local_auth.ISSUER, "aud": local_auth.AUDIENCE, "sub": "demo-operator",
                                        "exp": int(time.time()) + 600}, None,  # type: ignore[arg-type]
                                       algorithm="none"),
        "not-a-jwt": lambda: "definitely-not-a-token",
        "no-token": lambda: None,
    }[case]()
    before = db.execute("SELECT count(*) FROM bulk_operation_runs").fetchone()[0]
    response = _call(dispatch, f"/tenants/{tenant.id}/inventory-syncs", token, "POST", {})
    assert response["statusCode"] == 401, (case, response)
    assert response_json(response)["status"] == 401
    assert db.execute("SELECT count(*) FROM bulk_operation_runs").fetchone()[0] == before


@pytest.mark.parametrize("env", [{"AWS_SAM_LOCAL": ""}, {"AWS_SAM_LOCAL": "false"}, {"LOCAL_JWT_PUBLIC_KEY": ""}])
def test_outside_sam_local_a_dev_token_is_not_enough(dispatch, tenant, signer, sam_local, monkeypatch, env) -> None:
    """In AWS (no AWS_SAM_LOCAL) or without a configured key, only the authorizer's claims count."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    token = signer.token("demo-operator", "op@contoso.com", "Demo Operator")
    response = _call(dispatch, "/policy-types", token)
    assert response["statusCode"] == 401


def test_authorizer_claims_win_over_the_bearer_header(dispatch, tenant, signer, sam_local, db) -> None:
    """A request that did pass an authorizer is left alone: the header is not consulted."""
    token = signer.token("demo-operator", "op@contoso.com", "Demo Operator")
    event = http_event("POST", f"/tenants/{tenant.id}/inventory-syncs", body={},
                       headers={"authorization": f"Bearer {token}"},
                       claims={"sub": "mallory", "iss": "https://login.example/v2.0"})
    response = dispatch.lambda_handler(event, FakeContext())
    assert response["statusCode"] == 404  # mallory is no member of the tenant
    assert db.execute("SELECT count(*) FROM bulk_operation_runs").fetchone()[0] == 0


def test_a_bad_key_is_a_clear_server_error_not_a_pass(dispatch, tenant, signer, sam_local, monkeypatch,
                                                      caplog) -> None:
    monkeypatch.setenv("LOCAL_JWT_PUBLIC_KEY", "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----")
    response = _call(dispatch, "/policy-types", signer.token("demo-operator", None, None))
    assert response["statusCode"] == 500 and response_json(response)["detail"] == "internal error"
    assert [getattr(r, "error", None) for r in caplog.records] == ["LOCAL_JWT_PUBLIC_KEY is not a PEM public key"]


def test_the_key_is_read_once_per_execution_environment(dispatch, tenant, signer, monkeypatch) -> None:
    """In AWS the first request without claims settles it (no key); the local path is not consulted again, even
    if the environment claimed sam local afterwards."""
    token = signer.token("demo-operator", "op@contoso.com", "Demo Operator")
    assert _call(dispatch, "/policy-types", token)["statusCode"] == 401
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    monkeypatch.setenv("LOCAL_JWT_PUBLIC_KEY", signer.public_pem())
    assert _call(dispatch, "/policy-types", token)["statusCode"] == 401
    assert _call(load_function("dispatch"), "/policy-types", token)["statusCode"] == 200  # a new environment
