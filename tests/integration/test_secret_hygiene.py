"""Secrets and tokens never reach logs, errors, error context or audit metadata."""

from __future__ import annotations

import logging

from invsync_dev.local.graph_standin import Fault

SECRET = "s3cr3t-value-for-tests"


def test_no_secret_or_token_in_logs_or_stored_context(env, capfd, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    env.graph.set_fault("mobileApp", Fault(status=403))
    env.pipeline.dispatch(env.tenant.id, {})
    env.pipeline.run_all()
    env.graph.tenants[env.graph_tenant_id].client_secret = "rotated-secret-elsewhere"
    env.graph.tokens.clear()  # the cached token is now invalid: the next sync must re-authenticate and fail
    env.pipeline.dispatch(env.tenant.id, {"policy_types": ["deviceConfiguration"]})
    env.pipeline.run_all()
    statuses = [r[0] for r in env.db.execute("SELECT status FROM inventory_sync_runs ORDER BY id").fetchall()]
    assert statuses == ["partial", "failed"]
    captured = capfd.readouterr()
    text = captured.out + captured.err + caplog.text
    stored = str(env.db.execute(
        "SELECT json_agg(error_context)::text || json_agg(error_codes)::text FROM inventory_sync_runs").fetchone()[0])
    stored += str(env.db.execute("SELECT json_agg(metadata)::text FROM audit_logs").fetchone()[0])
    issued = list(env.graph.issued_tokens)
    assert issued, "the stand-in issued no token: the test would prove nothing"
    for needle in [SECRET, "rotated-secret-elsewhere", *issued]:
        assert needle not in text, "a secret or token reached the logs"
        assert needle not in stored, "a secret or token reached stored context"
    assert "Bearer " not in text and "Authorization" not in text
