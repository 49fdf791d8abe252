"""The operator CLI's words for what the API answered: how a sync ended (and its exit code), a problem document,
a timestamp."""

from __future__ import annotations

import pytest

from invsync_dev.cli.api_client import problem_text
from invsync_dev.cli.local import EXIT_CODES, outcome_of
from invsync_dev.cli.output import audit_trail, when


@pytest.mark.parametrize(("op", "outcome", "code"), [
    ({"status": "completed", "run": {"status": "success"}}, "success", 0),
    ({"status": "completed_with_errors", "run": {"status": "partial"}}, "partial", 3),
    ({"status": "failed", "run": {"status": "failed"}}, "failed", 4),
    ({"status": "failed", "run": None}, "failed", 4),  # dead-lettered before a run started
    ({"status": "completed", "run": {"status": "skipped"}}, "skipped", 5),
    ({"status": "aborted", "run": None}, "aborted", 6),  # cancelled while pending
    ({"status": "aborted", "run": {"status": "failed"}}, "aborted", 6),  # cancelled while running
    ({"status": "running", "run": {"status": "running"}}, "running", 7),  # --timeout ran out
])
def test_how_a_sync_ended_and_its_exit_code(op, outcome, code) -> None:
    assert outcome_of(op) == outcome and EXIT_CODES[outcome] == code


def test_a_problem_reads_as_title_and_detail_with_its_errors() -> None:
    problem = {"type": "about:blank", "title": "Unprocessable Content", "status": 422, "detail": "invalid request",
               "errors": [{"field": "body.credential.client_id", "message": "String should match pattern"},
                          {"field": "body.name", "message": "Field required"}]}
    assert problem_text(422, problem) == ("invsync: Unprocessable Content: invalid request\n"
                                          "  body.credential.client_id: String should match pattern\n"
                                          "  body.name: Field required")
    assert problem_text(409, {"title": "Conflict", "status": 409, "detail": "a tenant keeps at least one owner"}) \
        == "invsync: Conflict: a tenant keeps at least one owner"
    assert problem_text(401, {"message": "Unauthorized"}) == "invsync: Unauthorized (HTTP 401)"  # API Gateway's


def test_timestamps_keep_their_offset() -> None:
    assert when("2026-12-04T17:03:43.123456+00:00") == "2026-12-04T17:03:43+00:00"
    assert when("2026-12-04T18:03:43+01:00") == "2026-12-04T18:03:43+01:00"
    assert when(None) == "-"
    trail = audit_trail([{"id": 1, "recorded_at": "2026-12-04T17:03:43.5+00:00", "action": "tenant.created",
                          "resource_type": "tenant", "resource_id": "1", "actor_email": None, "actor_type": "system",
                          "status": "success"}])
    assert "2026-12-04T17:03:43+00:00" in trail


def test_the_audit_trail_says_a_partial_run_was_partial() -> None:
    """One vocabulary: the terminal event of a partial run is `success` in audit_logs.status, partial in words."""
    trail = audit_trail([{"id": 2, "recorded_at": "2026-12-04T17:03:43+00:00", "action": "inventory.sync.completed",
                          "resource_type": "inventory_sync_run", "resource_id": "2", "actor_email": "a@x.test",
                          "actor_type": "user", "status": "success", "outcome": "partial"}])
    assert trail.splitlines()[0].split()[-1] == "outcome" and trail.splitlines()[-1].split()[-1] == "partial"
