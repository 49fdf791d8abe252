"""The whole service on this machine, no Docker, no cloud account (README, "Local stack"):
embedded PostgreSQL (unless DATABASE_URL), moto as an AWS emulator (SQS + Secrets Manager),
the Graph stand-in with a demo tenant, the HTTP API on 127.0.0.1, and pollers feeding the
real handlers."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from inventory_sync.db import migrate as migrations
from inventory_sync.db import tenants
from invsync_dev.local.dev_jwt import LOCAL_ADMIN_GROUP, DevSigner
from invsync_dev.local.embedded_pg import DEFAULT_PORT, EmbeddedPostgres, PortInUse, free_port, port_free
from invsync_dev.local.graph_standin import GraphStandIn, demo_counts
from invsync_dev.local.http_api import LocalHttpApi
from invsync_dev.local.lambda_runtime import ACCOUNT, REGION, LambdaContext, load_function
from invsync_dev.local.pollers import QueuePoller, Timer

ROOT = Path(__file__).resolve().parents[3]
DEMO_GRAPH_TENANT = "contoso-demo.onmicrosoft.com"
DEMO_CLIENT_ID = "11111111-2222-3333-4444-555555555555"
DEMO_SUBJECT = "demo-operator"
RUN_VISIBILITY_SECONDS = 300  # > a local sync; the template uses 6 x the function timeout


# `invsync local up --demo-data`: two more tenants beside the demo one, so the console's overview shows tenants
# in different states (graph tenant, name, what their Graph app may not read, the secret the service holds)
SEED_TENANTS: tuple[tuple[str, str, set[str], str], ...] = (
    ("fabrikam-demo.onmicrosoft.com", "Fabrikam (demo, a permission missing)", {"mobileApp"},
     "local-demo-client-secret"),
    ("northwind-demo.onmicrosoft.com", "Northwind (demo, secret expired)", set(), "an-expired-client-secret"),
)
SEED_CHANGED = ("settingsCatalogPolicy", 1)  # the demo tenant's setting that changes between its two syncs


@dataclass
class Demo:
    tenant_id: int
    token: str
    subject: str = DEMO_SUBJECT


class LocalStack:
    def __init__(self, data_dir: Path, *, api_port: int = 3000, pg_port: int | None = None, graph_port: int = 0,
                 aws_port: int = 0, run_workers: int = 2, sweep_every: float = 60.0,
                 schedule_every: float | None = None, host: str = "127.0.0.1", pollers: bool = True,
                 queue_delay: int = 0) -> None:
        self.data_dir = Path(data_dir)
        self.api_port, self.pg_port, self.graph_port, self.aws_port = api_port, pg_port, graph_port, aws_port
        self.run_workers, self.sweep_every, self.schedule_every = run_workers, sweep_every, schedule_every
        self.host = host
        self.pollers = pollers
        self.queue_delay = queue_delay
        self.stop_event = threading.Event()
        self.pg: EmbeddedPostgres | None = None
        self._pg_started_here = False
        self.moto: Any = None
        self.graph: GraphStandIn | None = None
        self.api: LocalHttpApi | None = None
        self.threads: list[threading.Thread] = []
        self.env: dict[str, str] = {}
        self.signer = DevSigner(self.data_dir / "dev-jwt-key.pem")
        self.console_user: tuple[str, str] | None = None  # (name, token) the local console signs in with

    # -- start/stop ----------------------------------------------------------------------
    def start(self) -> LocalStack:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        database_url = os.environ.get("DATABASE_URL")
        if not database_url:
            # a port asked for is kept (or named when taken); otherwise 5433 when free, else any free port, so
            # that `make demo` works beside another checkout's `invsync local up`
            port = self.pg_port or (DEFAULT_PORT if port_free(DEFAULT_PORT, self.host) else free_port())
            self.pg = EmbeddedPostgres(self.data_dir / "postgres", port=port, host=self.host)
            if not self.pg.running():  # (when it is, its port is the one it runs on)
                try:
                    self.pg.start()
                except PortInUse as exc:
                    raise SystemExit(f"invsync: PostgreSQL: {exc}; stop it, or pass --pg-port <another port>"
                                     ) from None
                self._pg_started_here = True
            database_url = self.pg.url
        try:
            migrations.migrate(database_url)
        except migrations.MigrationError as exc:
            if self.pg is None:
                raise
            self.stop()
            raise SystemExit(f"invsync: {exc}. The local database in {self.data_dir} was made by another version "
                             f"of the schema; it holds only local demo data: delete {self.data_dir} and run again."
                             ) from None

        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the emulator's request log

        self.aws_port = self.aws_port or free_port()
        self.moto = ThreadedMotoServer(ip_address=self.host, port=self.aws_port, verbose=False)
        self.moto.start()
        endpoint = f"http://{self.host}:{self.aws_port}"
        self.graph = GraphStandIn(self.host, self.graph_port).start()
        self.graph.add_tenant(DEMO_GRAPH_TENANT, DEMO_CLIENT_ID, "local-demo-client-secret", demo_counts())

        self.env = {
            "DATABASE_URL": database_url, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
            "GRAPH_BASE_URL": self.graph.base_url, "GRAPH_AUTHORITY_HOST": self.graph.base_url,
            "TENANT_SECRET_PREFIX": "inventory-sync/tenants/", "POWERTOOLS_SERVICE_NAME": "inventory-sync",
            "POWERTOOLS_METRICS_NAMESPACE": "InventorySync", "POWERTOOLS_LOG_LEVEL": os.environ.get(
                "POWERTOOLS_LOG_LEVEL", "WARNING"), "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            # the pollers run several invocations at once on threads of one process (run_sync workers, the
            # schedule beside the HTTP API); Lambda would give each its own environment and connection
            "DB_POOL_MAX_SIZE": os.environ.get("DB_POOL_MAX_SIZE", "8"),
            # the demo operator administers the local platform (their token carries this group)
            "ADMIN_GROUP_ID": LOCAL_ADMIN_GROUP,
        }
        os.environ.update(self.env)
        self.queues = self._create_queues()
        os.environ["RUN_QUEUE_URL"] = self.env["RUN_QUEUE_URL"] = self.queues["RunQueue"]
        os.environ["FINALIZE_QUEUE_URL"] = self.env["FINALIZE_QUEUE_URL"] = self.queues["FinalizeQueue"]

        self.dispatch = load_function("dispatch")
        self.run_sync = load_function("run_sync")
        self.finalize = load_function("finalize")
        self.console = load_function("console")
        self.api = LocalHttpApi(self.dispatch.lambda_handler, self.signer, lambda: LambdaContext("dispatch", 60_000),
                                host=self.host, port=self.api_port, console=self._console).start()
        if self.pollers:
            self._start_pollers()
        return self

    def _console(self, method: str, path: str) -> dict[str, Any]:
        """The console function's answer, with the demo operator signed in: on this machine the page gets the
        development token from /console/config.json instead of signing in at an issuer (the API still checks
        it like any other)."""
        if self.console_user is None:
            config: dict[str, Any] = {"auth": {"mode": "unconfigured", "message": "The local stack is starting."}}
        else:
            name, token = self.console_user
            config = {"auth": {"mode": "development", "user": name, "token": token}}
        return self.console.respond(method, path, config)

    @property
    def console_url(self) -> str:
        return f"{self.api.url}/console/" if self.api else ""

    def _create_queues(self) -> dict[str, str]:
        import boto3

        sqs = boto3.client("sqs")
        urls: dict[str, str] = {}
        for name in ("RunDLQ", "FinalizeDLQ"):
            urls[name] = sqs.create_queue(QueueName=name)["QueueUrl"]
        arns = {n: sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                for n, u in urls.items()}
        urls["RunQueue"] = sqs.create_queue(QueueName="RunQueue", Attributes={
            "VisibilityTimeout": str(RUN_VISIBILITY_SECONDS), "DelaySeconds": str(self.queue_delay),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": arns["RunDLQ"], "maxReceiveCount": "5"})})["QueueUrl"]
        urls["FinalizeQueue"] = sqs.create_queue(QueueName="FinalizeQueue", Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": arns["FinalizeDLQ"], "maxReceiveCount": "20"})}
        )["QueueUrl"]
        return urls

    def _arn(self, name: str) -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"

    def _start_pollers(self) -> None:
        import boto3

        sqs = boto3.client("sqs")
        stop = self.stop_event
        for i in range(self.run_workers):
            self.threads.append(QueuePoller(sqs, self.queues["RunQueue"], self._arn("RunQueue"),
                                            self.run_sync.lambda_handler, lambda: LambdaContext("run_sync"), stop,
                                            batch_size=1, name=f"run_sync-{i}"))
        self.threads.append(QueuePoller(sqs, self.queues["FinalizeQueue"], self._arn("FinalizeQueue"),
                                        self.finalize.lambda_handler, lambda: LambdaContext("finalize", 60_000), stop,
                                        batch_size=10, name="finalize"))
        self.threads.append(QueuePoller(sqs, self.queues["RunDLQ"], self._arn("RunDLQ"), self.finalize.lambda_handler,
                                        lambda: LambdaContext("finalize", 60_000), stop, batch_size=10,
                                        name="finalize-dlq"))
        self.threads.append(Timer(self.sweep_every, lambda: self.finalize.lambda_handler(
            {"kind": "sweep"}, LambdaContext("finalize", 60_000)), stop, "sweep"))
        if self.schedule_every:
            self.threads.append(Timer(self.schedule_every, lambda: self.dispatch.lambda_handler(
                {"kind": "scheduled_inventory_sync", "selection": {}}, LambdaContext("dispatch", 60_000)), stop,
                "schedule"))
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=10)
        if self.api:
            self.api.stop()
        for name in ("dispatch", "run_sync", "finalize"):  # each function's pool, as its environment ends
            module = getattr(self, name, None)
            if module is not None:
                module.container.close()
        if self.graph:
            self.graph.stop()
        if self.moto:
            self.moto.stop()
        if self.pg and self._pg_started_here:
            self.pg.stop()

    # -- demo data -----------------------------------------------------------------------
    def ensure_demo(self) -> Demo:
        """The demo tenant, its credential in the emulator's Secrets Manager, and its owner (idempotent)."""
        import boto3

        with psycopg.connect(self.env["DATABASE_URL"], autocommit=True) as conn:
            row = conn.execute("SELECT id FROM tenants WHERE graph_tenant_id = %s ORDER BY id LIMIT 1",
                               (DEMO_GRAPH_TENANT,)).fetchone()
            tenant_id = row[0] if row else tenants.create(
                conn, name="Contoso (demo)", graph_tenant_id=DEMO_GRAPH_TENANT, graph_client_id=DEMO_CLIENT_ID).id
            user = tenants.upsert_user(conn, subject=DEMO_SUBJECT, email="operator@contoso-demo.example",
                                       name="Demo Operator")
            tenants.set_membership(conn, tenant_id, user.id, "owner")
        secrets = boto3.client("secretsmanager")
        name = f"{self.env['TENANT_SECRET_PREFIX']}{tenant_id}"
        value = json.dumps({"client_secret": "local-demo-client-secret"})
        try:
            secrets.create_secret(Name=name, SecretString=value)
        except secrets.exceptions.ResourceExistsException:
            secrets.put_secret_value(SecretId=name, SecretString=value)
        demo = Demo(tenant_id, self.signer.token(DEMO_SUBJECT, "operator@contoso-demo.example", "Demo Operator",
                                                 groups=[LOCAL_ADMIN_GROUP]))
        self.console_user = ("Demo Operator", demo.token)
        return demo

    def _tenant_with_secret(self, graph_tenant_id: str, name: str, secret: str, subject: str) -> int:
        import boto3

        with psycopg.connect(self.env["DATABASE_URL"], autocommit=True) as conn:
            row = conn.execute("SELECT id FROM tenants WHERE graph_tenant_id = %s ORDER BY id LIMIT 1",
                               (graph_tenant_id,)).fetchone()
            tenant_id = row[0] if row else tenants.create(
                conn, name=name, graph_tenant_id=graph_tenant_id, graph_client_id=DEMO_CLIENT_ID).id
            user = tenants.upsert_user(conn, subject=subject, email="operator@contoso-demo.example",
                                       name="Demo Operator")
            tenants.set_membership(conn, tenant_id, user.id, "owner")
        secrets = boto3.client("secretsmanager")
        secret_name = f"{self.env['TENANT_SECRET_PREFIX']}{tenant_id}"
        value = json.dumps({"client_secret": secret})
        try:
            secrets.create_secret(Name=secret_name, SecretString=value)
        except secrets.exceptions.ResourceExistsException:
            secrets.put_secret_value(SecretId=secret_name, SecretString=value)
        return tenant_id

    def seed_demo(self, demo: Demo, timeout: float = 300) -> dict[str, int]:
        """Demo data for the console (`invsync local up --demo-data`): three tenants in different states,
        reached by real syncs through the HTTP API. The demo tenant syncs twice with one settings-catalog
        setting changed in between (its second run shows the change); Fabrikam's app may not read mobile apps
        (a partial run and its missing permission); Northwind's stored secret is refused (a failed run).
        Tenants are made once; the syncs run only while the demo tenant has no run yet."""
        import time

        from invsync_dev.local.http_api import request

        assert self.graph is not None and self.api is not None  # started
        ids = {DEMO_GRAPH_TENANT: demo.tenant_id}
        for graph_tenant_id, name, refused, secret in SEED_TENANTS:
            standin = self.graph.add_tenant(graph_tenant_id, DEMO_CLIENT_ID, "local-demo-client-secret", demo_counts())
            standin.refused = set(refused)
            ids[graph_tenant_id] = self._tenant_with_secret(graph_tenant_id, name, secret, demo.subject)
        base = self.api.url

        def call(method: str, path: str) -> Any:
            status, body, _ = request(base + path, method, demo.token, {} if method == "POST" else None)
            if status >= 400:
                raise RuntimeError(f"{method} {path}: {status} {body}")
            return body

        def sync_all(tenant_ids: list[int]) -> None:
            ops = [call("POST", f"/tenants/{t}/inventory-syncs")["bulk_operation_run"]["id"] for t in tenant_ids]
            deadline = time.monotonic() + timeout
            while ops and time.monotonic() < deadline:
                ops = [op for op in ops if call("GET", f"/bulk-operations/{op}")["status"] in ("pending", "running")]
                time.sleep(0.2)
            if ops:
                raise RuntimeError(f"demo data: bulk operations {ops} did not finish within {timeout} s")

        if call("GET", f"/tenants/{demo.tenant_id}/inventory-syncs?limit=1")["items"]:
            return ids  # seeded before (the database outlives the stack)
        import boto3

        sqs = boto3.client("sqs")
        # the demo's syncs need not wait out --queue-delay (that is for watching the syncs one starts)
        sqs.set_queue_attributes(QueueUrl=self.queues["RunQueue"], Attributes={"DelaySeconds": "0"})
        try:
            sync_all(list(ids.values()))
            self.graph.modify_item(DEMO_GRAPH_TENANT, *SEED_CHANGED)
            sync_all([demo.tenant_id])
        finally:
            sqs.set_queue_attributes(QueueUrl=self.queues["RunQueue"],
                                     Attributes={"DelaySeconds": str(self.queue_delay)})
        return ids

    def env_json(self, host: str) -> dict[str, dict[str, str]]:
        """`sam local invoke/start-api --env-vars` for functions in containers that reach this stack's
        loopback ports as `host` (see container_bridge)."""
        from urllib.parse import urlsplit, urlunsplit

        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        from invsync_dev.local import sample_events

        def there(url: str) -> str:
            if "://" not in url:  # a libpq key=value string
                return make_conninfo("", **{**conninfo_to_dict(url), "host": host})
            parts = urlsplit(url)
            userinfo = parts.netloc.rpartition("@")[0]
            return urlunsplit(parts._replace(netloc=f"{userinfo + '@' if userinfo else ''}{host}:{parts.port}"))

        return sample_events.env_json(there(self.env["DATABASE_URL"]), there(self.env["AWS_ENDPOINT_URL"]),
                                      there(self.env["GRAPH_BASE_URL"]), there(self.env["RUN_QUEUE_URL"]),
                                      there(self.env["FINALIZE_QUEUE_URL"]))

    def container_ports(self) -> list[int]:
        """The loopback ports functions in containers need: PostgreSQL, the AWS emulator, the Graph stand-in."""
        from urllib.parse import urlsplit

        from psycopg.conninfo import conninfo_to_dict

        database = conninfo_to_dict(self.env["DATABASE_URL"])
        if database.get("host") not in ("127.0.0.1", "localhost"):
            raise RuntimeError("--for-containers relays loopback services only; DATABASE_URL names "
                               f"host {database.get('host')!r}")
        return [int(database.get("port") or 5432), *(urlsplit(self.env[key]).port or 80
                                                      for key in ("AWS_ENDPOINT_URL", "GRAPH_BASE_URL"))]

    def describe(self, demo: Demo) -> str:
        return "\n".join([
            f"HTTP API        {self.api.url if self.api else '-'}  (JWT verified locally; RS256 dev key in "
            f"{self.data_dir / 'dev-jwt-key.pem'})",
            f"Web console     {self.console_url}  (signed in as the demo operator)",
            f"PostgreSQL      {self.env['DATABASE_URL']}",
            f"AWS emulator    {self.env['AWS_ENDPOINT_URL']}  (SQS: RunQueue, FinalizeQueue, RunDLQ; Secrets Manager)",
            f"Graph stand-in  {self.env['GRAPH_BASE_URL']}  (demo tenant {DEMO_GRAPH_TENANT})",
            f"Demo tenant id  {demo.tenant_id}",
            f"Token           {demo.token}",
            "",
            f'Try:  curl -s -X POST -H "Authorization: Bearer $TOKEN" {self.api.url if self.api else ""}'
            f"/tenants/{demo.tenant_id}/inventory-syncs",
        ])
