"""``invsync tenants …`` and ``invsync members …``: onboarding without SQL.

Every command goes through the HTTP API (the local stack's by default, or ``--api-url`` with ``--token``): the
token's holder must be a platform administrator, or the tenant's owner for its credential and members. With
``--direct`` the same routes run in this process over DATABASE_URL and Secrets Manager (api_client.DirectApi),
as a platform administrator: the same rules and the same audit events, for when no API answers.

A client secret is read from standard input or a file, never from an argument or the environment, and never
echoed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from invsync_dev.cli.api_client import add_api_arguments, client
from invsync_dev.cli.output import table, when


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


def cmd_add(args: argparse.Namespace) -> int:
    secret = _read_secret(args)
    body = {"name": args.name, "graph_tenant_id": args.graph_tenant_id,
            "credential": {"client_id": args.client_id, **secret}, "scheduled_sync_enabled": not args.no_schedule}
    tenant = client(args).call("POST", "/tenants", body, expect=(201,))
    print(f"tenant {tenant['id']} added: {tenant['name']} ({tenant['graph_tenant_id']}), credential stored")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    rows = [[t["id"], t["name"], t["graph_tenant_id"], t["status"], t["scheduled_sync_enabled"], t["role"] or "-"]
            for t in client(args).pages("/tenants")]
    print(table(["id", "name", "graph tenant", "status", "scheduled", "your role"], rows))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    api = client(args)
    tenant = api.call("GET", f"/tenants/{args.tenant_id}")
    print(f"tenant {tenant['id']}: {tenant['name']}")
    last = api.call("GET", f"/tenants/{args.tenant_id}/inventory-syncs?limit=1", expect=(200, 404))
    runs = last.get("items") if isinstance(last, dict) else None  # administrators who are not members see none
    last_run = f"{runs[0]['id']} {runs[0]['status']} {when(runs[0]['started_at'])}" if runs else "-"
    for label, value in (("graph tenant", tenant["graph_tenant_id"]), ("client id", tenant["graph_client_id"]),
                         ("status", tenant["status"]), ("scheduled", "on" if tenant["scheduled_sync_enabled"]
                                                        else "off"), ("your role", tenant["role"] or "-"),
                         ("last run", last_run)):
        print(f"  {label:<13} {value}")
    members = api.call("GET", f"/tenants/{args.tenant_id}/members", expect=(200, 403))
    if isinstance(members, dict) and "items" in members:
        print(table(["subject", "email", "role"], [[m["subject"], m["email"], m["role"]] for m in members["items"]]))
    return 0


def cmd_set_secret(args: argparse.Namespace) -> int:
    secret = _read_secret(args)
    api = client(args)
    client_id = args.client_id or api.call("GET", f"/tenants/{args.tenant_id}")["graph_client_id"]
    api.call("PUT", f"/tenants/{args.tenant_id}/credential", {"client_id": client_id, **secret}, expect=(204,))
    print(f"credential of tenant {args.tenant_id} replaced")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    client(args).call("PATCH", f"/tenants/{args.tenant_id}",
                      {"status": "active" if args.action == "enable" else "inactive"})
    print(f"tenant {args.tenant_id} {args.action}d")
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    client(args).call("PATCH", f"/tenants/{args.tenant_id}", {"scheduled_sync_enabled": args.state == "on"})
    print(f"scheduled sync of tenant {args.tenant_id}: {args.state}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Exit 0 when every type is readable, 1 when a permission is missing, 2 when no token could be had."""
    checked: dict[str, Any] = client(args).call("GET", f"/tenants/{args.tenant_id}/permission-check?refresh=true")
    if checked.get("token_error"):
        print(f"cannot get a token for tenant {args.tenant_id}: {checked['token_error']}")
        return 2
    probes = checked.get("probes") or []
    rows = [[p["key"] + (" (foundation)" if p.get("foundation") else ""), p["category"], p["result"],
             p.get("permission") if p["result"] == "forbidden" else ""] for p in probes]
    print(table(["type", "category", "result", "missing permission"], rows))
    missing = checked.get("missing_permissions") or []
    if missing:
        print(f"\nGrant the app these application permissions and an admin consent: {', '.join(missing)}")
        return 1
    print(f"\nall {len(probes)} types reachable (or absent in this tenant)")
    return 0


def cmd_members(args: argparse.Namespace) -> int:
    api = client(args)
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


def _command(parent: Any, name: str, text: str | None = None) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = parent.add_parser(name, help=text)
    return add_api_arguments(parser, direct=True)


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("tenants", help="add and manage tenants").add_subparsers(dest="tenants_command",
                                                                                 required=True)
    p = _command(t, "add", "add a tenant and store its app credential")
    p.add_argument("--name", required=True)
    p.add_argument("--graph-tenant-id", required=True, help="the Entra directory id or primary domain")
    p.add_argument("--client-id", required=True, help="the app registration's application (client) id")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--client-secret-stdin", action="store_true", help="read the client secret from stdin")
    source.add_argument("--client-secret-file", help="read the client secret from this file")
    source.add_argument("--certificate", help="a PEM file with the app's certificate and private key")
    p.add_argument("--no-schedule", action="store_true", help="leave it out of scheduled syncs")
    p.set_defaults(func=cmd_add)
    _command(t, "list", "all tenants").set_defaults(func=cmd_list)
    p = _command(t, "show", "one tenant, its members and last run")
    p.add_argument("tenant_id", type=int)
    p.set_defaults(func=cmd_show)
    p = _command(t, "set-secret", "replace a tenant's client secret")
    p.add_argument("tenant_id", type=int)
    p.add_argument("--client-id", help="with a new app registration: its client id (default: the tenant's)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--client-secret-stdin", action="store_true")
    source.add_argument("--client-secret-file")
    source.add_argument("--certificate", help="a PEM file with the app's certificate and private key")
    p.set_defaults(func=cmd_set_secret)
    for action in ("enable", "disable"):
        p = _command(t, action, f"{action} syncs of a tenant")
        p.add_argument("tenant_id", type=int)
        p.set_defaults(func=cmd_status, action=action)
    p = _command(t, "schedule", "include in or leave out of scheduled syncs")
    p.add_argument("tenant_id", type=int)
    p.add_argument("state", choices=["on", "off"])
    p.set_defaults(func=cmd_schedule)
    p = _command(t, "check", "probe every enabled policy type: which Graph permissions are missing")
    p.add_argument("tenant_id", type=int)
    p.set_defaults(func=cmd_check)

    m = sub.add_parser("members", help="tenant memberships").add_subparsers(dest="members_command", required=True)
    for name in ("add", "remove", "list"):
        p = _command(m, name)
        p.add_argument("--tenant", type=int, required=True)
        if name != "list":
            p.add_argument("--subject", required=True, help="the user's JWT oid/sub")
        if name == "add":
            p.add_argument("--role", choices=["owner", "operator", "reader"], required=True)
            p.add_argument("--email")
        p.set_defaults(func=cmd_members)
