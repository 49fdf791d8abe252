"""``invsync local …``, ``invsync demo`` and the operator commands (sync, runs, audit)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from inventory_sync.db import migrate as migrations
from invsync_dev.cli.api_client import add_api_arguments, client
from invsync_dev.cli.output import TERMINAL, audit_trail, change_set, table, wait_for, when
from invsync_dev.local.embedded_pg import EmbeddedPostgres, PortInUse
from invsync_dev.paths import DATA_DIR


def cmd_local_db(args: argparse.Namespace) -> int:
    if os.environ.get("DATABASE_URL"):
        server, url = None, os.environ["DATABASE_URL"]
    else:
        server = EmbeddedPostgres(DATA_DIR / "postgres", port=args.port)
        started = not server.running()
        if started:
            try:
                server.start()
            except PortInUse as exc:
                raise SystemExit(f"invsync: PostgreSQL: {exc}; stop it, or pass --port <another port>") from None
        url = server.url
    applied = migrations.migrate(url)
    state = migrations.status(url)
    print(f"PostgreSQL ready at {url}: {len(applied)} migration(s) applied now, {len(state.applied)} in all")
    if server and args.foreground:
        print("Ctrl-C stops it")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
        server.stop()
    return 0


def cmd_local_up(args: argparse.Namespace) -> int:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO")
    from invsync_dev.local.stack import LocalStack

    if args.for_containers:
        from invsync_dev.local.container_bridge import docker_problem

        problem = "needs root (it opens sockets inside a container's network namespace)" if os.geteuid() else (
            docker_problem())
        if problem:
            print(f"invsync local up --for-containers: {problem}", file=sys.stderr)
            return 2

    stack = LocalStack(DATA_DIR, api_port=args.api_port, pg_port=args.pg_port, graph_port=args.graph_port,
                       aws_port=args.aws_port, run_workers=args.workers, sweep_every=args.sweep_every,
                       schedule_every=args.schedule_every, pollers=not args.no_pollers, queue_delay=args.queue_delay)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    bridge = None
    stack.start()
    try:
        demo = stack.ensure_demo()
        if args.demo_data:
            print("Seeding demo data: three tenants and their syncs…", flush=True)
            stack.seed_demo(demo)
        if args.for_containers:
            from invsync_dev.local.container_bridge import ContainerBridge

            try:
                bridge = ContainerBridge(stack.container_ports(), network=args.docker_network,
                                         name=args.stack_host).start()
            except (RuntimeError, OSError) as exc:
                print(f"invsync local up --for-containers: {exc}", file=sys.stderr)
                return 2
            env = stack.env_json(bridge.name)
            public_key = stack.signer.public_pem()
            for variables in env.values():
                variables["LOCAL_JWT_PUBLIC_KEY"] = public_key
            args.env_json.write_text(json.dumps(env, indent=2) + "\n")
        print("Inventory Sync — local stack is up\n")
        print(stack.describe(demo))
        if bridge:
            print(f"\nFor sam local: containers on Docker network {bridge.network} reach PostgreSQL, the AWS"
                  f" emulator and the Graph stand-in as {bridge.name}:{{{','.join(map(str, bridge.ports))}}}."
                  f"\nWrote {args.env_json}; use: --env-vars {args.env_json} --docker-network {bridge.network}")
        print("\nCtrl-C stops everything.", flush=True)
        stopping.wait()
    finally:
        print("stopping…", flush=True)
        if bridge:
            bridge.stop()
        stack.stop()
    return 0


def cmd_local_receive(args: argparse.Namespace) -> int:
    """Takes one message off a queue of the local stack and prints it as the SQS event Lambda would get."""
    import boto3

    from invsync_dev.local import sample_events

    sqs = boto3.client("sqs", endpoint_url=args.aws_endpoint, region_name=os.environ.get("AWS_DEFAULT_REGION",
                       "us-east-1"), aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "local"),
                       aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "local"))
    url = sqs.get_queue_url(QueueName=args.queue)["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=args.wait,
                                   AttributeNames=["All"]).get("Messages", [])
    if not messages:
        print(f"no message on {args.queue} within {args.wait} s", file=sys.stderr)
        return 1
    [message] = messages
    event = sample_events.sqs_event(json.loads(message["Body"]), args.queue, message_id=message["MessageId"],
                                    receive_count=message["Attributes"].get("ApproximateReceiveCount", "1"))
    if args.keep:  # visible again at once, for the next receiver
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    else:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    text = json.dumps(event, indent=2) + "\n"
    if args.output:
        args.output.write_text(text)
        print(f"wrote {args.output}: one {args.queue} message as an SQS event", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # the demo prints its own story
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    from invsync_dev.cli.demo import run_demo

    return run_demo(DATA_DIR, api_port=args.api_port)


# -- operator commands against any deployment ------------------------------------------------
# `invsync sync --wait`: how the sync ended, for scripts (a missing permission makes a run partial)
EXIT_CODES = {"success": 0, "partial": 3, "failed": 4, "skipped": 5, "aborted": 6, "running": 7}
SYNC_EPILOG = ("exit codes with --wait: 0 success, 3 partial (some types failed, e.g. a missing permission), "
               "4 failed, 5 skipped (the same selection was already syncing), 6 aborted (cancelled), 7 still "
               "running after --timeout; 1 the API refused (its problem is printed), 2 bad arguments")
def outcome_of(op: dict[str, Any]) -> str:
    """One word for how a dispatch ended, the run's own where there is one: success, partial, failed, skipped,
    aborted; or running when it had not ended yet."""
    if op["status"] not in TERMINAL:
        return "running"
    if op["status"] == "aborted":
        return "aborted"
    run = op.get("run") or {}
    return str(run.get("status") or "failed")


def cmd_sync(args: argparse.Namespace) -> int:
    """Exit codes with --wait: see EXIT_CODES (README, "Operator CLI")."""
    api = client(args)
    body: dict[str, object] = {}
    if args.policy_type:
        body["policy_types"] = args.policy_type
    if args.category:
        body["categories"] = args.category
    dispatched = api.call("POST", f"/tenants/{args.tenant}/inventory-syncs", body, expect=(202,))
    op = dispatched["bulk_operation_run"]
    print(f"dispatched bulk operation {op['id']} ({len(dispatched['selection']['policy_types'])} policy types)")
    for ignored in dispatched["ignored_policy_types"]:
        print(f"  ignored (disabled here): {ignored}")
    if not args.wait:
        return 0
    final = wait_for(lambda: api.call("GET", f"/bulk-operations/{op['id']}"), timeout=args.timeout)
    run = final.get("run") or {}
    outcome = outcome_of(final)
    print(f"{outcome}: run {run.get('id')}, {run.get('items_observed_count')} items seen,"
          f" {run.get('items_upserted_count')} upserted, error codes {', '.join(run.get('error_codes') or []) or '-'}")
    for key, detail in sorted(((run.get("error_context") or {}).get("types") or {}).items()):
        hint = f" — grant the app {detail['permission']}" if detail.get("permission") else ""
        print(f"  {key}: {detail.get('code')}{hint}")
    return EXIT_CODES[outcome]


def cmd_runs(args: argparse.Namespace) -> int:
    page = client(args).call("GET", f"/tenants/{args.tenant}/inventory-syncs?limit={args.limit}")
    rows = [[r["id"], r["status"], when(r["started_at"]), r["items_observed_count"], r["items_upserted_count"],
             ",".join(r["error_codes"]) or "-"] for r in page["items"]]
    print(table(["run", "status", "started", "observed", "upserted", "error codes"], rows))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    page = client(args).call("GET", f"/tenants/{args.tenant}/audit-logs?limit={args.limit}")
    if args.json:
        print(json.dumps(page["items"], indent=2))
    else:
        print(audit_trail(page["items"]))
    return 0


def cmd_changes(args: argparse.Namespace) -> int:
    """A run's change set (the tenant's latest run by default) or, with --item, that item's history."""
    api = client(args)
    if args.item:
        path = f"/tenants/{args.tenant}/inventory-items/{args.item}/history"
        title = f"history of item {args.item}"
    else:
        run_id = args.run
        if run_id is None:
            latest = api.call("GET", f"/tenants/{args.tenant}/inventory-syncs?limit=1")["items"]
            if not latest:
                print("no runs yet")
                return 0
            run_id = latest[0]["id"]
        path = f"/tenants/{args.tenant}/inventory-syncs/{run_id}/changes"
        title = f"changes of run {run_id}"
    found = api.pages(path)
    if args.json:
        print(json.dumps(found, indent=2))
    else:
        print(title)
        print(change_set(found, color=sys.stdout.isatty() and not os.environ.get("NO_COLOR")))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    local = sub.add_parser("local", help="run the service on this machine").add_subparsers(
        dest="local_command", required=True)
    p = local.add_parser("db", help="start the embedded PostgreSQL (data in .data/) and migrate it")
    p.add_argument("--port", type=int, default=5433)
    p.add_argument("--foreground", action="store_true", help="keep it running until Ctrl-C")
    p.set_defaults(func=cmd_local_db)

    p = local.add_parser("up", help="PostgreSQL, AWS emulator, Graph stand-in, HTTP API and pollers")
    p.add_argument("--api-port", type=int, default=3000)
    p.add_argument("--pg-port", type=int, default=5433)
    p.add_argument("--graph-port", type=int, default=8765)
    p.add_argument("--aws-port", type=int, default=4566)
    p.add_argument("--workers", type=int, default=2, help="concurrent run_sync pollers")
    p.add_argument("--sweep-every", type=float, default=60.0, help="seconds between orphan sweeps")
    p.add_argument("--schedule-every", type=float, default=None, help="seconds between scheduled full syncs")
    p.add_argument("--no-pollers", action="store_true", help="leave the queues to someone else (sam local invoke)")
    p.add_argument("--queue-delay", type=int, default=0, choices=range(0, 901), metavar="SECONDS",
                   help="RunQueue's DelaySeconds: a dispatched sync waits this long before a worker may take it "
                        "(to watch or cancel a pending operation, as when the queue has a backlog)")
    p.add_argument("--demo-data", action="store_true",
                   help="also add two demo tenants and sync all three (one completes with a changed setting, one "
                        "lacks a Graph permission, one has an expired secret): the console's overview shows each")
    p.add_argument("--for-containers", action="store_true",
                   help="also serve functions run by sam local (Docker network invsync-local) and write their "
                        "--env-vars file; needs a Docker engine and root")
    p.add_argument("--env-json", type=Path, default=Path("env.local.json"), help="where --for-containers writes")
    p.add_argument("--docker-network", default="invsync-local", help="with --for-containers: the Docker network")
    p.add_argument("--stack-host", default="invsync-stack",
                   help="with --for-containers: the name functions use for the stack (a container of that name)")
    p.set_defaults(func=cmd_local_up)

    p = local.add_parser("receive", help="take one message off a local queue and print it as an SQS event "
                                         "(for sam local invoke -e)")
    p.add_argument("queue", choices=["RunQueue", "FinalizeQueue", "RunDLQ", "FinalizeDLQ"])
    p.add_argument("--aws-endpoint", default="http://127.0.0.1:4566")
    p.add_argument("--wait", type=int, default=5, help="seconds to wait for a message (max 20)")
    p.add_argument("--keep", action="store_true", help="leave the message on the queue")
    p.add_argument("-o", "--output", type=Path, help="write the event here instead of stdout")
    p.set_defaults(func=cmd_local_receive)

    p = sub.add_parser("demo", help="the local stack, a full sync end to end, then a partial one")
    p.add_argument("--api-port", type=int, default=0, help="0 = any free port")
    p.set_defaults(func=cmd_demo)

    for name, func, text in (("sync", cmd_sync, "dispatch a sync of a tenant"),
                             ("runs", cmd_runs, "a tenant's sync runs"),
                             ("audit", cmd_audit, "a tenant's audit trail"),
                             ("changes", cmd_changes, "what a run changed (default: the latest), or an item's "
                                                      "history")):
        p = add_api_arguments(sub.add_parser(name, help=text, epilog=SYNC_EPILOG if name == "sync" else None,
                                             formatter_class=argparse.RawDescriptionHelpFormatter))
        p.add_argument("--tenant", type=int, required=True)
        p.set_defaults(func=func)
        if name == "sync":
            p.add_argument("--wait", action="store_true", help="follow progress until the end (exit codes below)")
            p.add_argument("--timeout", type=float, default=600, help="with --wait: seconds to follow (default 600)")
            p.add_argument("--policy-type", action="append", help="repeatable; default: full inventory")
            p.add_argument("--category", action="append", help="repeatable")
        else:
            p.add_argument("--limit", type=int, default=50)
        if name in ("audit", "changes"):
            p.add_argument("--json", action="store_true")
        if name == "changes":
            p.add_argument("--run", type=int, help="the run (default: the tenant's latest)")
            p.add_argument("--item", type=int, help="an inventory item's id: its history instead")

