"""Arrange rows through the real table modules (never a mock of our data layer)."""

from __future__ import annotations

import re
import uuid

import psycopg

from inventory_sync.db import tenants
from inventory_sync.db.rows import Tenant, User


def tenant(conn: psycopg.Connection, name: str = "Contoso", *, status: str = "active", scheduled: bool = True,
           graph_tenant_id: str | None = None) -> Tenant:
    """A tenant on its own directory unless one is given (a directory is onboarded once)."""
    slug = re.sub("[^a-z0-9]+", "", name.lower()) or "t"
    directory = graph_tenant_id or f"{slug}-{uuid.uuid4().hex[:8]}.onmicrosoft.com"
    return tenants.create(conn, name=name, graph_tenant_id=directory, graph_client_id="client-app-id",
                          status=status, scheduled_sync_enabled=scheduled)


def member(conn: psycopg.Connection, tenant_id: int, subject: str, role: str = "operator",
           email: str | None = None, name: str | None = None) -> User:
    user = tenants.upsert_user(conn, subject=subject, email=email or f"{subject}@example.com",
                               name=name or subject.title())
    tenants.set_membership(conn, tenant_id, user.id, role)
    return user


def sync_run(conn: psycopg.Connection, tenant_id: int) -> int:
    """A running sync (with its bulk operation) for the write path's tests; its id."""
    bulk = conn.execute("INSERT INTO bulk_operation_runs (tenant_id, resource, action) VALUES (%s, 'inventory',"
                        " 'sync') RETURNING id", (tenant_id,)).fetchone()
    assert bulk is not None
    run = conn.execute("INSERT INTO inventory_sync_runs (tenant_id, bulk_operation_run_id, selection_hash,"
                       " selection_payload) VALUES (%s, %s, repeat('a', 64), '{}') RETURNING id",
                       (tenant_id, bulk[0])).fetchone()
    assert run is not None
    return int(run[0])


def self_signed_certificate(common_name: str = "inventory-sync-test", days: int = 2) -> tuple[str, str, str]:
    """An app certificate as a tenant would upload it: (certificate PEM, unencrypted PKCS#8 key PEM, its SHA-256
    thumbprint in hex)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=days)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return (cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem,
            cert.fingerprint(hashes.SHA256()).hex())
