"""``invsync tenants …`` and ``invsync members …``: onboarding without SQL.

Two modes, the same commands and rules:

* against a deployed stack (or the local one) over its HTTP API: ``--api-url`` and ``--token`` (or
  INVSYNC_API_URL and INVSYNC_TOKEN); the token's holder must be a platform administrator, or the
  tenant's owner for its credential and members;
* straight to the local stack's PostgreSQL and Secrets Manager: DATABASE_URL and AWS credentials
  (AWS_ENDPOINT_URL for an emulator), when no API URL is given.

A client secret is read from standard input or a file, never from an argument or the environment,
and never echoed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import psycopg

from inventory_sync.db import tenants
from invsync_dev.cli.output import table


def _url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("invsync: set DATABASE_URL")
    return url


def _prefix() -> str:
    return os.environ.get("TENANT_SECRET_PREFIX", "inventory-sync/tenants/")


def _secrets():
    import boto3

    return boto3.client("secretsmanager")


def _read_secret(args: argparse.Namespace) -> dict[str, str]:
    """The credential to store: a client secret (stdin or file) or a certificate with its key (one PEM file)."""
    if getattr(args, "certificate", None):
        pem = Path(args.certificate).read_text()
        cert = re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", pem, re.S)
        key = re.search(r"-----BEGIN (?:RSA )?PRIVATE KEY-----.+?-----END (?:RSA )?PRIVATE KEY-----", pem, re.S)
        if not cert or not key:
            raise SystemExit("invsync: --certificate needs one PEM file holding the certificate and its private key")
        return {"certificate_pem": cert.group(0) + "\n", "private_key_pem": key.group(0) + "\n"}
    if args.client_secret_stdin:
        value = sys.stdin.readline().strip()
    else:
        value = Path(args.client_secret_file).read_text().strip()
    if not value:
        raise SystemExit("invsync: the client secret is empty")
    return {"client_secret": value}


def _store_secret(tenant_id: int, value: dict[str, str]) -> None:
    client = _secrets()
    name = f"{_prefix()}{tenant_id}"
    body = json.dumps(value)
    try:
        client.create_secret(Name=name, SecretString=body, Description="Inventory Sync tenant app credential")
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=body)


def _api(args: argparse.Namespace):
    """The API client when the command runs against an API, else None (direct database mode)."""
    if not getattr(args, "api_url", None):
        return None
    from invsync_dev.cli.api_client import ApiClient

    if not args.token:
        raise SystemExit("invsync: a bearer token is needed with --api-url (--token or INVSYNC_TOKEN)")
    return ApiClient(args.api_url, args.token)


def _credential_body(client_id: str, secret: dict[str, str]) -> dict[str, str]:
    return {"client_id": client_id, **secret}


def _all_tenants(api) -> list[dict]:
    found, cursor = [], None
    while True:
        page = api.call("GET", "/tenants?limit=200" + (f"&cursor={cursor}" if cursor else ""))
        found += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def _tenant_or_exit(conn: psycopg.Connection, tenant_id: int):
    tenant = tenants.get(conn, tenant_id)
    if tenant is None:
        raise SystemExit(f"invsync: no tenant {tenant_id}")
    return tenant


def cmd_add(args: argparse.Namespace) -> int:
    secret = _read_secret(args)
    api = _api(args)
    if api:
        tenant = api.call("POST", "/tenants", {"name": args.name, "graph_tenant_id": args.graph_tenant_id,
                                               "credential": _credential_body(args.client_id, secret),
                                               "scheduled_sync_enabled": not args.no_schedule}, expect=(201,))
        print(f"tenant {tenant['id']} added: {tenant['name']} ({tenant['graph_tenant_id']}), credential stored")
        return 0
    stored = None
    try:
        with psycopg.connect(_url()) as conn:  # one transaction: the row exists only if the secret does
            if tenants.directory_taken(conn, args.graph_tenant_id):
                raise tenants.DirectoryTaken(args.graph_tenant_id)
            tenant = tenants.create(conn, name=args.name, graph_tenant_id=args.graph_tenant_id,
                                    graph_client_id=args.client_id, scheduled_sync_enabled=not args.no_schedule)
            _store_secret(tenant.id, secret)
            stored = tenant.id
    except tenants.DirectoryTaken:
        raise SystemExit(f"invsync: a tenant is already onboarded on {args.graph_tenant_id}") from None
    except psycopg.Error:
        if stored is not None:  # the commit failed after the secret was written: take it back
            _secrets().delete_secret(SecretId=f"{_prefix()}{stored}", ForceDeleteWithoutRecovery=True)
        raise
    print(f"tenant {tenant.id} added: {tenant.name} ({tenant.graph_tenant_id}), credential stored as "
          f"{_prefix()}{tenant.id}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    api = _api(args)
    if api:
        rows = [[t["id"], t["name"], t["graph_tenant_id"], t["status"], t["scheduled_sync_enabled"], t["role"] or "-"]
                for t in _all_tenants(api)]
        print(table(["id", "name", "graph tenant", "status", "scheduled", "your role"], rows))
        return 0
    with psycopg.connect(_url()) as conn:
        stored = conn.execute("SELECT id, name, graph_tenant_id, status, scheduled_sync_enabled FROM tenants"
                              " ORDER BY id").fetchall()
    print(table(["id", "name", "graph tenant", "status", "scheduled"], [list(r) for r in stored]))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    api = _api(args)
    if api:
        tenant = api.call("GET", f"/tenants/{args.tenant_id}")
        print(f"tenant {tenant['id']}: {tenant['name']}")
        for label, value in (("graph tenant", tenant["graph_tenant_id"]), ("client id", tenant["graph_client_id"]),
                             ("status", tenant["status"]), ("scheduled", "on" if tenant["scheduled_sync_enabled"]
                                                            else "off"), ("your role", tenant["role"] or "-")):
            print(f"  {label:<13} {value}")
        members = api.call("GET", f"/tenants/{args.tenant_id}/members", expect=(200, 403))
        if isinstance(members, dict) and "items" in members:
            print(table(["subject", "email", "role"],
                        [[m["subject"], m["email"], m["role"]] for m in members["items"]]))
        return 0
    with psycopg.connect(_url()) as conn:
        tenant = _tenant_or_exit(conn, args.tenant_id)
        members = conn.execute("SELECT u.subject, u.email, m.role FROM tenant_memberships m JOIN users u ON"
                               " u.id = m.user_id WHERE m.tenant_id = %s ORDER BY u.subject", (tenant.id,)).fetchall()
        last = conn.execute("SELECT id, status, finished_at FROM inventory_sync_runs WHERE tenant_id = %s"
                            " ORDER BY id DESC LIMIT 1", (tenant.id,)).fetchone()
    print(f"tenant {tenant.id}: {tenant.name}")
    for label, value in (("graph tenant", tenant.graph_tenant_id), ("client id", tenant.graph_client_id),
                         ("status", tenant.status), ("scheduled", "on" if tenant.scheduled_sync_enabled else "off"),
                         ("credential", f"{_prefix()}{tenant.id}"),
                         ("last run", f"{last[0]} {last[1]} {last[2]}" if last else "-")):
        print(f"  {label:<13} {value}")
    print(table(["subject", "email", "role"], [list(m) for m in members]))
    return 0


def cmd_set_secret(args: argparse.Namespace) -> int:
    secret = _read_secret(args)
    api = _api(args)
    if api:
        client_id = args.client_id or api.call("GET", f"/tenants/{args.tenant_id}")["graph_client_id"]
        api.call("PUT", f"/tenants/{args.tenant_id}/credential", _credential_body(client_id, secret), expect=(204,))
        print(f"credential of tenant {args.tenant_id} replaced")
        return 0
    with psycopg.connect(_url()) as conn:
        _tenant_or_exit(conn, args.tenant_id)
        if args.client_id:
            tenants.update(conn, args.tenant_id, {"graph_client_id": args.client_id})
        _store_secret(args.tenant_id, secret)  # inside the transaction: a refused secret changes nothing
    print(f"credential of tenant {args.tenant_id} replaced")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    api = _api(args)
    if api:
        api.call("PATCH", f"/tenants/{args.tenant_id}", {"status": "active" if args.action == "enable" else "inactive"})
        print(f"tenant {args.tenant_id} {args.action}d")
        return 0
    try:
        with psycopg.connect(_url()) as conn:
            _tenant_or_exit(conn, args.tenant_id)
            tenants.set_status(conn, args.tenant_id, "active" if args.action == "enable" else "inactive")
    except psycopg.errors.UniqueViolation:  # migration 0007: one active tenant per directory
        raise SystemExit(f"invsync: another active tenant holds tenant {args.tenant_id}'s directory") from None
    print(f"tenant {args.tenant_id} {args.action}d")
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    api = _api(args)
    if api:
        api.call("PATCH", f"/tenants/{args.tenant_id}", {"scheduled_sync_enabled": args.state == "on"})
        print(f"scheduled sync of tenant {args.tenant_id}: {args.state}")
        return 0
    with psycopg.connect(_url()) as conn:
        _tenant_or_exit(conn, args.tenant_id)
        conn.execute("UPDATE tenants SET scheduled_sync_enabled = %s, updated_at = now() WHERE id = %s",
                     (args.state == "on", args.tenant_id))
    print(f"scheduled sync of tenant {args.tenant_id}: {args.state}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    api = _api(args)
    if api:
        checked = api.call("GET", f"/tenants/{args.tenant_id}/permission-check?refresh=true")
        rows = [[p["key"], p["category"], p["result"], p.get("permission") if p["result"] == "forbidden" else ""]
                for p in checked.get("probes", [])]
        print(table(["type", "category", "result", "missing permission"], rows))
        missing = checked.get("missing_permissions") or []
        if missing:
            print(f"\nGrant the app these application permissions and an admin consent: {', '.join(missing)}")
            return 1
        return 0
    from inventory_sync import bootstrap
    from inventory_sync.services import permissions

    container = bootstrap.build(application_name="invsync-cli")
    with psycopg.connect(_url()) as conn:
        tenant = _tenant_or_exit(conn, args.tenant_id)
    report = permissions.check(tenant, container.registry, container.credentials, container.tokens,
                               container.settings.graph_base_url)
    if report.token_error:
        print(f"cannot get a token for tenant {tenant.id}: {report.token_error}")
        return 2
    rows = [[p.key + (" (foundation)" if p.foundation else ""), p.category, p.result,
             p.permission if p.result == "forbidden" else ""] for p in report.probes]
    print(table(["type", "category", "result", "missing permission"], rows))
    if report.blocking:
        print(f"\n{len(report.blocking)} type(s) forbidden. Grant the app these application permissions and an "
              f"admin consent: {', '.join(report.missing_permissions)}")
        return 1
    print(f"\nall {len(report.probes)} types reachable (or absent in this tenant)")
    return 0


def _members_over_api(api, args: argparse.Namespace) -> int:
    path = f"/tenants/{args.tenant}/members"
    if args.members_command == "list":
        rows = [[m["subject"], m["email"], m["name"], m["role"]] for m in api.call("GET", path)["items"]]
        print(table(["subject", "email", "name", "role"], rows))
        return 0
    if args.members_command == "add":
        api.call("PUT", path, {"subject": args.subject, "email": args.email, "role": args.role}, expect=(200, 201))
        print(f"{args.subject} is {args.role} of tenant {args.tenant}")
        return 0
    found = [m for m in api.call("GET", path)["items"] if m["subject"] == args.subject]
    if not found:
        raise SystemExit(f"invsync: {args.subject} is not a member of tenant {args.tenant}")
    api.call("DELETE", f"{path}/{found[0]['user_id']}", expect=(204,))
    print(f"{args.subject} removed from tenant {args.tenant}")
    return 0


def cmd_members(args: argparse.Namespace) -> int:
    api = _api(args)
    if api:
        return _members_over_api(api, args)
    with psycopg.connect(_url()) as conn:
        _tenant_or_exit(conn, args.tenant)
        if args.members_command == "list":
            rows = conn.execute("SELECT u.subject, u.email, u.name, m.role FROM tenant_memberships m JOIN users u"
                                " ON u.id = m.user_id WHERE m.tenant_id = %s ORDER BY u.subject",
                                (args.tenant,)).fetchall()
            print(table(["subject", "email", "name", "role"], [list(r) for r in rows]))
            return 0
        user = conn.execute("SELECT id FROM users WHERE subject = %s", (args.subject,)).fetchone()
        if args.members_command == "add":
            user_id = user[0] if user else tenants.upsert_user(conn, subject=args.subject, email=args.email,
                                                               name=None).id
            tenants.set_membership(conn, args.tenant, user_id, args.role)
            print(f"{args.subject} is {args.role} of tenant {args.tenant}")
            return 0
        if user is None or not tenants.remove_membership(conn, args.tenant, user[0]):
            raise SystemExit(f"invsync: {args.subject} is not a member of tenant {args.tenant}")
        print(f"{args.subject} removed from tenant {args.tenant}")
        return 0


def _remote(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--api-url", default=os.environ.get("INVSYNC_API_URL"),
                        help="run against this HTTP API (default $INVSYNC_API_URL; none: straight to $DATABASE_URL)")
    parser.add_argument("--token", default=os.environ.get("INVSYNC_TOKEN"),
                        help="bearer token for --api-url (default $INVSYNC_TOKEN)")
    return parser


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("tenants", help="add and manage tenants").add_subparsers(dest="tenants_command",
                                                                                 required=True)
    p = _remote(t.add_parser("add", help="add a tenant and store its app credential"))
    p.add_argument("--name", required=True)
    p.add_argument("--graph-tenant-id", required=True, help="the Entra directory id or primary domain")
    p.add_argument("--client-id", required=True, help="the app registration's application (client) id")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--client-secret-stdin", action="store_true", help="read the client secret from stdin")
    source.add_argument("--client-secret-file", help="read the client secret from this file")
    source.add_argument("--certificate", help="a PEM file with the app's certificate and private key")
    p.add_argument("--no-schedule", action="store_true", help="leave it out of scheduled syncs")
    p.set_defaults(func=cmd_add)
    _remote(t.add_parser("list", help="all tenants")).set_defaults(func=cmd_list)
    p = _remote(t.add_parser("show", help="one tenant, its members and last run"))
    p.add_argument("tenant_id", type=int)
    p.set_defaults(func=cmd_show)
    p = _remote(t.add_parser("set-secret", help="replace a tenant's client secret"))
    p.add_argument("tenant_id", type=int)
    p.add_argument("--client-id", help="with a new app registration: its client id (default: the tenant's)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--client-secret-stdin", action="store_true")
    source.add_argument("--client-secret-file")
    source.add_argument("--certificate", help="a PEM file with the app's certificate and private key")
    p.set_defaults(func=cmd_set_secret)
    for action in ("enable", "disable"):
        p = _remote(t.add_parser(action, help=f"{action} syncs of a tenant"))
        p.add_argument("tenant_id", type=int)
        p.set_defaults(func=cmd_status, action=action)
    p = _remote(t.add_parser("schedule", help="include in or leave out of scheduled syncs"))
    p.add_argument("tenant_id", type=int)
    p.add_argument("state", choices=["on", "off"])
    p.set_defaults(func=cmd_schedule)
    p = _remote(t.add_parser("check", help="probe every enabled policy type: which Graph permissions are missing"))
    p.add_argument("tenant_id", type=int)
    p.set_defaults(func=cmd_check)

    m = sub.add_parser("members", help="tenant memberships").add_subparsers(dest="members_command", required=True)
    for name in ("add", "remove", "list"):
        p = _remote(m.add_parser(name))
        p.add_argument("--tenant", type=int, required=True)
        if name != "list":
            p.add_argument("--subject", required=True, help="the user's JWT oid/sub")
        if name == "add":
            p.add_argument("--role", choices=["owner", "operator", "reader"], required=True)
            p.add_argument("--email")
        p.set_defaults(func=cmd_members)
