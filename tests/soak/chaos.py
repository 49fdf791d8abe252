"""The chaos soak: many tenants and dispatches against the real functions while everything that can go wrong
does, then every guarantee of the design checked at once.

A seed draws the whole plan: tenants and their Graph objects, each wave's dispatches (users and the schedule,
full and chosen selections, Idempotency-Key retries, cancels), Graph faults per policy type (429, 500, 503,
malformed pages, 403, 404) and dropped connections, changes to Graph between and during syncs, SIGKILLed
run_sync worker processes, a PostgreSQL restart, poison messages on RunQueue and RunDLQ, and sweeps. The
workers draw their duplicate and early deliveries from it too. What the seed cannot fix is how threads and
processes interleave: a seed replays the same plan, not the same schedule of the machine.

At the end, with faults cleared and every operation settled, one full sync per tenant brings the inventory up to
date and a second must find nothing to change; then the checks (`Soak.check`) run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psycopg

from invsync_dev.local.graph_standin import Fault, GraphStandIn
from invsync_dev.local.pollers import QueuePoller
from tests.soak.relay import DroppingRelay
from tests.support import factories
from tests.support.lambdas import (
    FakeContext,
    claims_for,
    http_event,
    load_function,
    response_json,
    scheduled_envelope,
)

ROOT = Path(__file__).resolve().parents[2]
TERMINAL_ACTIONS = ("inventory.sync.completed", "inventory.sync.failed", "inventory.sync.skipped",
                    "inventory.sync.aborted")
# the tenants' objects live in these types (every other type is listed too, and is empty)
TYPES = ("deviceConfiguration", "deviceCategory", "mobileApp", "deviceCompliancePolicy", "settingsCatalogPolicy",
         "deviceShellScript", "deviceManagementScript", "windowsAutopilotDeploymentProfile")
CHOSEN = ("deviceConfiguration", "deviceCategory", "mobileApp", "deviceCompliancePolicy", "deviceShellScript",
          "settingsCatalogPolicy")
MUTABLE = ("deviceConfiguration", "mobileApp", "deviceCompliancePolicy")
# each injected fault, and the error code it may leave on a type whose retries it outlasts
FAULTS: dict[str, tuple[Callable[[random.Random], Fault], str]] = {
    "429": (lambda r: Fault(status=429, times=r.randint(2, 8), retry_after="0"), "graph_throttled"),
    "500": (lambda r: Fault(status=500, times=r.randint(2, 8)), "graph_unavailable"),
    "503": (lambda r: Fault(status=503, times=r.randint(2, 8), retry_after="0"), "graph_unavailable"),
    "malformed": (lambda r: Fault(malformed=True, times=r.randint(1, 3)), "graph_invalid_response"),
    "403": (lambda r: Fault(status=403), "graph_forbidden"),
    "404": (lambda r: Fault(status=404), "graph_not_found"),
}
USERS = ("soak-alice", "soak-bob", "soak-carol")
# bodies no dispatch sent: not JSON, no known shape, a version from the future
POISON = ("not json at all", '{"version": 1}', '[{"bulk_operation_run_id": 1}]',
          '{"version": 2, "inventory_sync_run_id": null, "bulk_operation_run_id": 1}')
GRAPH_LATENCY_MS = 40  # per request: syncs last long enough to overlap
SECRET_PREFIX = "soak-client-secret-"


@dataclass(frozen=True)
class Scale:
    tenants: int
    waves: int
    dispatches_per_wave: int
    workers: int
    wave_seconds: float
    kills_per_wave: int
    settle_seconds: float = 150.0


SHORT = Scale(tenants=6, waves=3, dispatches_per_wave=9, workers=3, wave_seconds=9.0, kills_per_wave=1)
LONG = Scale(tenants=20, waves=6, dispatches_per_wave=20, workers=4, wave_seconds=14.0, kills_per_wave=2)


@dataclass
class Action:
    at: float  # seconds into its wave
    kind: str  # dispatch, schedule, retry, cancel, fault, mutate, kill, restart, sweep
    args: dict[str, Any] = field(default_factory=dict)


def plan(seed: int, scale: Scale) -> tuple[list[dict[str, int]], list[list[Action]]]:
    """Everything the seed decides: each tenant's object counts, and each wave's actions in time order."""
    rng = random.Random(seed)
    tenants = [{"deviceConfiguration": rng.randint(100, 450), "deviceCategory": rng.randint(1, 6),
                "mobileApp": rng.randint(5, 40), "deviceCompliancePolicy": rng.randint(1, 12),
                "settingsCatalogPolicy": rng.randint(0, 2), "deviceShellScript": rng.randint(0, 4),
                "deviceManagementScript": rng.randint(0, 4), "windowsAutopilotDeploymentProfile": rng.randint(0, 3)}
               for _ in range(scale.tenants)]
    restart_wave = rng.randrange(1, scale.waves) if scale.waves > 1 else 0
    waves: list[list[Action]] = []
    dispatch_no = 0
    span = scale.wave_seconds * 0.8
    for wave in range(scale.waves):
        actions: list[Action] = []
        for key in rng.sample([t for t in TYPES if t != "deviceCategory"], rng.randint(1, 3)):
            actions.append(Action(rng.uniform(0, span / 2), "fault", {"policy_type": key,
                                                                      "fault": rng.choice(sorted(FAULTS))}))
        for _ in range(scale.dispatches_per_wave):
            at = rng.uniform(0, span)
            args: dict[str, Any] = {"no": dispatch_no, "tenant": rng.randrange(scale.tenants),
                                    "user": rng.choice(USERS), "body": _selection(rng)}
            if rng.random() < 0.3:
                args["key"] = f"soak-{seed}-{dispatch_no}"
                actions.append(Action(at + rng.choice([0.0, rng.uniform(0.5, 4.0)]), "retry", {"no": dispatch_no}))
            if rng.random() < 0.2:
                actions.append(Action(at + rng.choice([0.0, 0.05, rng.uniform(0.3, 3.0)]), "cancel",
                                      {"no": dispatch_no}))
            actions.append(Action(at, "dispatch", args))
            dispatch_no += 1
        for _ in range(3):  # one tenant, two selections sharing a type, dispatched at once
            at, tenant = rng.uniform(0, span), rng.randrange(scale.tenants)
            for body in ({} if rng.random() < 0.5 else {"policy_types": ["deviceCategory", "deviceConfiguration"],
                                                         "include_foundations": False},
                         {"policy_types": ["deviceConfiguration"], "include_foundations": rng.random() < 0.5}):
                actions.append(Action(at, "dispatch", {"no": dispatch_no, "tenant": tenant, "user": rng.choice(USERS),
                                                       "body": body}))
                dispatch_no += 1
        actions.append(Action(rng.uniform(0, span), "schedule",
                              {"body": None if rng.random() < 0.6 else _selection(rng, full=False)}))
        for _ in range(rng.randint(1, max(1, scale.tenants // 3))):
            actions.append(Action(rng.uniform(0, span), "mutate", {
                "tenant": rng.randrange(scale.tenants), "key": rng.choice(MUTABLE),
                "remove": rng.randint(0, 2), "add": rng.randint(0, 2), "modify": rng.randint(0, 3),
                "draw": rng.random()}))
        for _ in range(scale.kills_per_wave):
            actions.append(Action(rng.uniform(1.0, span), "kill", {"slot": rng.randrange(scale.workers)}))
        if wave == restart_wave:
            actions.append(Action(rng.uniform(span / 3, span), "restart"))
        actions.append(Action(rng.uniform(span / 2, span), "sweep"))
        actions.append(Action(rng.uniform(0, span), "poison", {"queue": rng.choice(["run", "dlq"]),
                                                               "body": rng.choice(POISON)}))
        waves.append(sorted(actions, key=lambda a: a.at))
    return tenants, waves


def _selection(rng: random.Random, full: bool | None = None) -> dict[str, Any]:
    if full if full is not None else rng.random() < 0.35:
        return {}
    types = {"deviceConfiguration"} if rng.random() < 0.6 else set()
    types.update(rng.sample(CHOSEN, rng.randint(1, 2)))
    return {"policy_types": sorted(types), "include_foundations": rng.random() < 0.5,
            "include_dependencies": rng.random() < 0.5}


@dataclass
class Tenant:
    id: int
    graph_tenant_id: str


class Soak:
    """One seeded soak against the test session's PostgreSQL, moto server and Graph stand-in."""

    def __init__(self, seed: int, scale: Scale, *, database_url: str, pg_server: Any, graph: GraphStandIn,
                 endpoint: str, workdir: Path) -> None:
        self.seed, self.scale = seed, scale
        self.database_url, self.pg_server, self.graph, self.endpoint = database_url, pg_server, graph, endpoint
        self.workdir = workdir
        self.counts, self.waves = plan(seed, scale)
        self.rng = random.Random(seed ^ 0x5EED)
        self.journal: list[tuple[float, str]] = []
        self.failures: list[str] = []
        self.tenants: list[Tenant] = []
        self.dispatched: dict[int, dict[str, Any]] = {}  # dispatch no → first 202 body
        self.requests: dict[int, tuple[int, dict[str, Any]]] = {}  # dispatch no → (tenant id, plan args)
        self.scheduled = 0
        self.cancel_requested: set[int] = set()
        self.faults: list[tuple[str, str, float, float]] = []  # (type, code, from, until)
        self.disruptions: list[float] = []  # kills and the restart
        self.removed: dict[tuple[str, str], float] = {}  # (graph tenant, external id) → when it left Graph
        self.audit_before: dict[int, str] = {}
        self.workers: list[subprocess.Popen | None] = [None] * scale.workers
        self._spawned = 0
        self._stop = threading.Event()
        self.relay = DroppingRelay(int(graph.base_url.rsplit(":", 1)[1]), seed, drop_rate=0.01)

    # -- journal ----------------------------------------------------------------------------------------
    def note(self, what: str) -> None:
        self.journal.append((time.time(), what))

    def fail(self, what: str) -> None:
        self.failures.append(what)

    # -- set-up -----------------------------------------------------------------------------------------
    def setup(self, monkeypatch: Any) -> None:
        sqs = boto3.client("sqs")
        dlq = sqs.create_queue(QueueName="SoakRunDLQ")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.queues = {
            "run": sqs.create_queue(QueueName="SoakRunQueue", Attributes={
                "VisibilityTimeout": "8",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})})["QueueUrl"],
            "finalize": sqs.create_queue(QueueName="SoakFinalizeQueue",
                                         Attributes={"VisibilityTimeout": "3"})["QueueUrl"],
            "dlq": dlq}
        self.env = {"RUN_QUEUE_URL": self.queues["run"], "FINALIZE_QUEUE_URL": self.queues["finalize"],
                    "DATABASE_URL": self.database_url, "GRAPH_BASE_URL": self.relay.url,
                    "GRAPH_AUTHORITY_HOST": self.graph.base_url, "GRAPH_RETRY_BASE_SECONDS": "0.05",
                    "GRAPH_MAX_ATTEMPTS": "4", "DEADLINE_MARGIN_SECONDS": "5", "SYNC_CONCURRENCY": "4",
                    "PENDING_TIMEOUT_SECONDS": "60", "POWERTOOLS_LOG_LEVEL": "WARNING",
                    "POWERTOOLS_METRICS_NAMESPACE": "InventorySyncSoak"}
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)
        self.graph.latency_ms = GRAPH_LATENCY_MS
        with psycopg.connect(self.database_url, autocommit=True) as db:
            # production commits synchronously; the test server does not (speed), and a crash would then lose
            # acknowledged commits: this database gets the real setting before the restart
            dbname = db.info.dbname
            db.execute(f'ALTER DATABASE "{dbname}" SET synchronous_commit = on')
            secrets = boto3.client("secretsmanager")
            for i, counts in enumerate(self.counts):
                gid = f"soak-{self.seed}-{i}-{uuid.uuid4().hex[:6]}.example"
                self.graph.add_tenant(gid, "client-app-id", f"{SECRET_PREFIX}{i}", counts=counts)
                tenant = factories.tenant(db, f"Soak {i}", graph_tenant_id=gid, scheduled=i % 4 != 3)
                for subject in USERS:
                    factories.member(db, tenant.id, subject, "operator")
                secrets.create_secret(Name=f"inventory-sync/tenants/{tenant.id}",
                                      SecretString=json.dumps({"client_secret": f"{SECRET_PREFIX}{i}"}))
                self.tenants.append(Tenant(tenant.id, gid))
        self.dispatch_fn = load_function("dispatch")
        finalize_queue_fn, dlq_fn, self.sweep_fn = (load_function("finalize") for _ in range(3))
        sqs_for_pollers = boto3.client("sqs")
        self.pollers = [
            QueuePoller(sqs_for_pollers, self.queues["finalize"], "arn:aws:sqs:us-east-1:123456789012:FinalizeQueue",
                        finalize_queue_fn.lambda_handler, FakeContext, self._stop, batch_size=10, name="finalize"),
            QueuePoller(sqs_for_pollers, dlq, "arn:aws:sqs:us-east-1:123456789012:RunDLQ",
                        dlq_fn.lambda_handler, FakeContext, self._stop, batch_size=10, name="run-dlq")]
        for poller in self.pollers:
            poller.start()
        for slot in range(self.scale.workers):
            self._spawn(slot)

    def _spawn(self, slot: int) -> None:
        self._spawned += 1
        log = open(self.workdir / f"worker-{slot}-{self._spawned}.log", "w")  # noqa: SIM115 - the child owns it
        self.workers[slot] = subprocess.Popen(
            [sys.executable, "-m", "tests.soak.worker", str(self.seed * 1000 + self._spawned)], cwd=ROOT,
            env={**os.environ, **self.env, "PYTHONPATH": str(ROOT)}, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT)
        log.close()

    # -- the waves --------------------------------------------------------------------------------------
    def run(self) -> None:
        for number, actions in enumerate(self.waves):
            started = time.monotonic()
            self.note(f"wave {number} begins")
            set_faults: list[tuple[str, str, float]] = []
            for action in actions:
                delay = started + action.at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self._do(action, set_faults)
            rest = started + self.scale.wave_seconds - time.monotonic()
            if rest > 0:
                time.sleep(rest)
            self.graph.clear_faults()
            now = time.time()
            for key, code, since in set_faults:
                self.faults.append((key, code, since, now))
            self.note(f"wave {number} ends; faults cleared")
            self._snapshot_audit()
        self.relay.active = False

    def _do(self, action: Action, set_faults: list[tuple[str, str, float]]) -> None:
        kind, args = action.kind, action.args
        if kind == "dispatch":
            tenant = self.tenants[args["tenant"]]
            status, body = self._post(f"/tenants/{tenant.id}/inventory-syncs", args["user"], args["body"],
                                      args.get("key"))
            self.note(f"dispatch #{args['no']} tenant {tenant.id} by {args['user']} {json.dumps(args['body'])}"
                      f" key={args.get('key')}: {status}")
            if status == 202:
                self.dispatched[args["no"]] = body
                self.requests[args["no"]] = (tenant.id, args)
            else:
                self.fail(f"dispatch #{args['no']} answered {status}: {body}")
        elif kind == "retry":
            first = self.dispatched.get(args["no"])
            if first is None:
                return
            tenant_id, original = self.requests[args["no"]]
            status, body = self._post(f"/tenants/{tenant_id}/inventory-syncs", original["user"], original["body"],
                                      original["key"])
            self.note(f"retry of #{args['no']} with its Idempotency-Key: {status}")
            if status != 202 or body != first:
                self.fail(f"Idempotency-Key retry of dispatch #{args['no']} answered {status} {body},"
                          f" the first answer was {first}")
        elif kind == "cancel":
            first = self.dispatched.get(args["no"])
            if first is None:
                return
            bulk_id = first["bulk_operation_run"]["id"]
            self.cancel_requested.add(bulk_id)
            status, body = self._call("POST", f"/bulk-operations/{bulk_id}/cancel",
                                      self.requests[args["no"]][1]["user"])
            self.note(f"cancel bulk {bulk_id}: {status}")
            if status not in (200, 202, 409):
                self.fail(f"cancel of bulk operation {bulk_id} answered {status}: {body}")
        elif kind == "schedule":
            event: dict[str, Any] = scheduled_envelope() if args["body"] is None else {
                "kind": "scheduled_inventory_sync", "selection": args["body"]}
            result = self.dispatch_fn.lambda_handler(event, FakeContext())
            self.note(f"schedule {json.dumps(args['body'])}: {result}")
            if result.get("status") != "ok" or result.get("failed"):
                self.fail(f"scheduled dispatch answered {result}")
            self.scheduled += result.get("dispatched", 0)
        elif kind == "fault":
            make, code = FAULTS[args["fault"]]
            self.graph.set_fault(args["policy_type"], make(self.rng))
            set_faults.append((args["policy_type"], code, time.time()))
            self.note(f"fault {args['fault']} on {args['policy_type']}")
        elif kind == "mutate":
            self._mutate(args)
        elif kind == "kill":
            proc = self.workers[args["slot"]]
            if proc is not None and proc.poll() is None:
                self.disruptions.append(time.time())
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
                self.note(f"SIGKILL worker slot {args['slot']} (pid {proc.pid})")
            self._spawn(args["slot"])
        elif kind == "restart":
            if self.pg_server is None:
                self.note("no embedded server to restart (TEST_DATABASE_URL): restart skipped")
                return
            self.disruptions.append(time.time())
            self.note("PostgreSQL restart (immediate stop, then start)")
            self.pg_server.restart()
            self.disruptions.append(time.time())
        elif kind == "sweep":
            self._sweep()
        elif kind == "poison":
            boto3.client("sqs").send_message(QueueUrl=self.queues[args["queue"]], MessageBody=args["body"])
            self.note(f"poison message to {args['queue']}: {args['body']}")

    def _mutate(self, args: dict[str, Any]) -> None:
        tenant = self.tenants[args["tenant"]]
        gid, key = tenant.graph_tenant_id, args["key"]
        standin = self.graph.tenants[gid]
        alive = [i for i in range(standin.total(key)) if standin.exists(key, i)]
        rng = random.Random(args["draw"])
        for index in rng.sample(alive, min(args["remove"], max(0, len(alive) - 1))):
            self.graph.remove_item(gid, key, index)
            self.removed[(gid, self.graph.item_id(gid, key, index))] = time.time()
        self.graph.add_items(gid, key, args["add"])
        for index in rng.sample(alive, min(args["modify"], len(alive))):
            if standin.exists(key, index):
                self.graph.modify_item(gid, key, index)
        self.note(f"Graph of tenant {tenant.id}: {key} -{args['remove']} +{args['add']} ~{args['modify']}")

    def _sweep(self) -> None:
        result = self.sweep_fn.lambda_handler({"kind": "sweep"}, FakeContext())
        self.note(f"sweep: {result}")

    def _call(self, method: str, path: str, subject: str, body: Any = None,
              headers: dict[str, str] | None = None) -> tuple[int, Any]:
        response = self.dispatch_fn.lambda_handler(
            http_event(method, path, body=body, headers=headers,
                       claims=claims_for(subject, f"{subject}@soak.example", subject.title())), FakeContext())
        return response["statusCode"], response_json(response)

    def _post(self, path: str, subject: str, body: dict[str, Any], key: str | None) -> tuple[int, Any]:
        return self._call("POST", path, subject, body, {"Idempotency-Key": key} if key else None)

    def _snapshot_audit(self) -> None:
        with self._db() as db:
            rows = db.execute("SELECT id, md5(a::text) FROM audit_logs a").fetchall()
        for audit_id, digest in rows:
            before = self.audit_before.setdefault(audit_id, digest)
            if before != digest:
                self.fail(f"audit_logs row {audit_id} changed")

    def _db(self) -> psycopg.Connection:
        return psycopg.connect(self.database_url, autocommit=True)

    # -- settling -----------------------------------------------------------------------------------------
    def settle(self) -> None:
        """Every operation terminal (sweeping as the schedule would), then two full syncs per tenant."""
        self._wait_quiet("after the waves")
        for round_no in (1, 2):
            bulk_ids = []
            for tenant in self.tenants:
                status, body = self._post(f"/tenants/{tenant.id}/inventory-syncs", USERS[0], {}, None)
                if status != 202:
                    self.fail(f"settling sync {round_no} of tenant {tenant.id} answered {status}: {body}")
                    continue
                bulk_ids.append(body["bulk_operation_run"]["id"])
            self._wait_quiet(f"settling round {round_no}")
            with self._db() as db:
                rows = db.execute(
                    "SELECT b.id, b.status, r.status, r.error_codes, r.items_added_count, r.items_changed_count,"
                    " r.items_deleted_count, r.items_restored_count FROM bulk_operation_runs b"
                    " LEFT JOIN inventory_sync_runs r ON r.bulk_operation_run_id = b.id WHERE b.id = ANY(%s)",
                    (bulk_ids,)).fetchall()
            for bulk_id, bulk_status, run_status, codes, added, changed, deleted, restored in rows:
                if (bulk_status, run_status) != ("completed", "success"):
                    self.fail(f"settling sync {round_no} (bulk {bulk_id}) ended {bulk_status}/{run_status} {codes}")
                elif round_no == 2 and (added, changed, deleted, restored) != (0, 0, 0, 0):
                    self.fail(f"a full re-sync of unchanged Graph (bulk {bulk_id}) found changes: added {added},"
                              f" changed {changed}, deleted {deleted}, restored {restored}")

    def _wait_quiet(self, when: str) -> None:
        deadline = time.monotonic() + self.scale.settle_seconds
        while time.monotonic() < deadline:
            with self._db() as db:
                active = db.execute("SELECT count(*) FROM bulk_operation_runs WHERE status IN ('pending', 'running')"
                                    ).fetchone()[0]
            if active == 0:
                return
            time.sleep(1.0)
            self._sweep()
        self.fail(f"{when}: bulk operations still active after {self.scale.settle_seconds:.0f} s")

    def stop(self) -> None:
        self._stop.set()
        for proc in self.workers:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for poller in self.pollers:
            poller.join(timeout=15)
        self.relay.stop()
        self.graph.clear_faults()

    # -- the guarantees ---------------------------------------------------------------------------------
    def check(self) -> None:
        self._snapshot_audit()
        with self._db() as db:
            self._check_operations(db)
            self._check_inventory(db)
            self._check_locks(db)

    def _check_operations(self, db: psycopg.Connection) -> None:
        accepted = {body["bulk_operation_run"]["id"] for body in self.dispatched.values()}
        settling = 2 * len(self.tenants)
        total = db.execute("SELECT count(*) FROM bulk_operation_runs").fetchone()[0]
        if total != len(accepted) + self.scheduled + settling:
            self.fail(f"{total} bulk operations, but {len(accepted)} dispatches were accepted, {self.scheduled}"
                      f" scheduled and {settling} settling")
        events: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
        for bulk_id, action, resource_id, metadata in db.execute(
                "SELECT metadata ->> 'bulk_operation_run_id', action, resource_id, metadata FROM audit_logs"
                " WHERE action = ANY(%s)", (list(TERMINAL_ACTIONS),)):
            events.setdefault(bulk_id, []).append((action, resource_id, metadata))
        rows = db.execute(
            "SELECT b.id, b.status, b.processed_items, b.succeeded, b.failed, b.skipped, b.created_at, b.finished_at,"
            " r.id, r.status, r.error_codes, r.error_context, r.started_at, r.finished_at"
            " FROM bulk_operation_runs b LEFT JOIN inventory_sync_runs r ON r.bulk_operation_run_id = b.id").fetchall()
        for (bulk_id, status, processed, succeeded, failed, skipped, created, finished, run_id, run_status, codes,
             context, run_started, run_finished) in rows:
            where = f"bulk operation {bulk_id} (run {run_id})"
            if run_status == "running":
                self.fail(f"{where}: run left running")
            mine = events.get(str(bulk_id), [])
            if run_status is None and len(mine) == 1:  # no run: the terminal event carries the codes
                codes = mine[0][2].get("error_codes") or []
            expected = _mapping(run_status, status, codes or [])
            if expected is None:
                self.fail(f"{where}: run {run_status} {codes} has no place in the status mapping")
                continue
            bulk_status, counters, action, metadata_status = expected
            if status != bulk_status:
                self.fail(f"{where}: bulk operation {status}, run {run_status} {codes}: expected {bulk_status}")
            if (processed, succeeded, failed, skipped) != counters:
                self.fail(f"{where}: counters {(processed, succeeded, failed, skipped)}, expected {counters}")
            if run_status is None and status == "aborted" and bulk_id not in self.cancel_requested:
                self.fail(f"{where}: aborted, but nobody cancelled it")
            if len(mine) != 1:
                self.fail(f"{where}: {len(mine)} terminal audit events")
            elif mine[0][0] != action or (metadata_status and mine[0][2].get("status") != metadata_status) or (
                    run_id is not None and mine[0][1] != str(run_id)):
                self.fail(f"{where}: terminal event {mine[0][0]} for {mine[0][1]} ({mine[0][2].get('status')}),"
                          f" expected {action} for run {run_id}")
            since = (run_started or created).timestamp() - 1
            until = (run_finished or finished or created).timestamp() + 1
            for code in codes or []:
                if not self._explained(code, context or {}, bulk_id, created.timestamp() - 1, since, until):
                    self.fail(f"{where}: error code {code} not explained by any injected fault (context {context})")

    def _explained(self, code: str, context: dict[str, Any], bulk_id: int, created: float, since: float,
                   until: float) -> bool:
        if code == "lock_held":
            return True  # overlapping dispatches of one selection: by design
        if code == "cancelled":
            return bulk_id in self.cancel_requested
        if code in ("run_orphaned", "run_crashed"):
            return any(created <= t <= until for t in self.disruptions)
        types = context.get(code, {}).get("policy_types", [])
        if not types:
            return False
        for key in types:
            faulted = any(k == key and c == code and since <= end and start <= until
                          for k, c, start, end in self.faults)
            dropped = code == "graph_unavailable" and any(since <= t <= until for t in self.relay.drops)
            if not (faulted or dropped):
                return False
        return True

    def _check_inventory(self, db: psycopg.Connection) -> None:
        """No false deletions, and every tenant's items exactly what Graph lists."""
        false: dict[tuple[int, int], list[str]] = {}  # (tenant, run) → live items it marked deleted
        for tenant_id, run_id, key, ext, recorded in db.execute(
                "SELECT tenant_id, inventory_sync_run_id, policy_type, external_id, recorded_at"
                " FROM inventory_item_changes WHERE change = 'deleted'"):
            gid = next(t.graph_tenant_id for t in self.tenants if t.id == tenant_id)
            gone = self.removed.get((gid, ext))
            if gone is None or gone > recorded.timestamp() + 1:
                false.setdefault((tenant_id, run_id), []).append(f"{key} {ext}")
        for (tenant_id, run_id), items in sorted(false.items()):
            self.fail(f"false deletions: run {run_id} of tenant {tenant_id} marked {len(items)} items deleted that"
                      f" Graph still listed (or removed only later), e.g. {items[:3]}")
        for tenant_id, run_id, count in db.execute(
                "SELECT tenant_id, inventory_sync_run_id, count(*) FROM inventory_item_changes"
                " WHERE change = 'restored' GROUP BY 1, 2 ORDER BY 1, 2"):
            self.fail(f"restored: run {run_id} of tenant {tenant_id} brought back {count} items, so they had been"
                      " marked deleted while live")
        for tenant in self.tenants:
            standin = self.graph.tenants[tenant.graph_tenant_id]
            expected = {(key, self.graph.item_id(tenant.graph_tenant_id, key, i))
                        for key in TYPES for i in range(standin.total(key)) if standin.exists(key, i)}
            stored = set(db.execute("SELECT policy_type, external_id FROM inventory_items WHERE tenant_id = %s"
                                    " AND deleted_at IS NULL", (tenant.id,)).fetchall())
            if stored != expected:
                self.fail(f"tenant {tenant.id}: {len(stored - expected)} live items Graph does not list"
                          f" {sorted(stored - expected)[:5]}, {len(expected - stored)} listed ones not live"
                          f" {sorted(expected - stored)[:5]}")

    def _check_locks(self, db: psycopg.Connection) -> None:
        held = db.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()[0]
        if held:
            self.fail(f"{held} advisory locks still held after every worker stopped")

    # -- the report -------------------------------------------------------------------------------------
    def summary(self) -> str:
        with self._db() as db:
            statuses = db.execute("SELECT status, count(*) FROM bulk_operation_runs GROUP BY 1 ORDER BY 1").fetchall()
            runs = db.execute("SELECT status, count(*) FROM inventory_sync_runs GROUP BY 1 ORDER BY 1").fetchall()
            changes = db.execute("SELECT change, count(*) FROM inventory_item_changes GROUP BY 1 ORDER BY 1"
                                 ).fetchall()
        return (f"seed {self.seed}: {len(self.tenants)} tenants, {len(self.dispatched)} API dispatches +"
                f" {self.scheduled} scheduled, {len(self.cancel_requested)} cancels, {len(self.faults)} fault windows,"
                f" {len(self.relay.drops)} dropped connections, {len(self.disruptions)} disruptions"
                f" (kills, restart); bulk operations {dict(statuses)}; runs {dict(runs)}; changes {dict(changes)}")

    def report(self, replay: str) -> str:
        lines = [f"chaos soak failed: seed {self.seed}", f"replay: {replay}", self.summary(),
                 f"worker logs: {self.workdir}", "", f"{len(self.failures)} failure(s):"]
        lines += [f"  - {f}" for f in self.failures[:40]]
        start = self.journal[0][0] if self.journal else 0.0
        lines += ["", "journal (seconds since start):"]
        lines += [f"  {t - start:7.2f} {what}" for t, what in self.journal]
        return "\n".join(lines)


def _mapping(run_status: str | None, bulk_status: str, codes: list[str]
             ) -> tuple[str, tuple[int, int, int, int], str, str | None] | None:
    """The design's §4 table: (bulk status, counters processed/succeeded/failed/skipped, terminal action,
    metadata status)."""
    if run_status == "success":
        return "completed", (1, 1, 0, 0), "inventory.sync.completed", "success"
    if run_status == "partial":
        return "completed_with_errors", (1, 1, 0, 0), "inventory.sync.completed", "partial"
    if run_status == "skipped":
        return "completed", (1, 0, 0, 1), "inventory.sync.skipped", None
    if run_status == "failed" and "cancelled" in codes:
        return "aborted", (1, 0, 0, 1), "inventory.sync.aborted", None
    if run_status == "failed":
        return "failed", (1, 0, 1, 0), "inventory.sync.failed", None
    if run_status is None and bulk_status == "aborted":  # cancelled while pending
        return "aborted", (1, 0, 0, 1), "inventory.sync.aborted", None
    if run_status is None:  # failed before a run existed (dead-lettered, or pending past its age)
        return "failed", (1, 0, 1, 0), "inventory.sync.failed", None
    return None
