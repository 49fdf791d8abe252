"""Tenant administration's rules over the in-memory unit of work: who may change what, a tenant keeps an owner,
every change writes its event, and a credential stored for a change that does not commit is taken back."""

from __future__ import annotations

import json

import psycopg
import pytest
from pydantic import SecretStr

from inventory_sync.adapters.graph.credentials import CredentialStoreError, StoredCredential
from inventory_sync.db.rows import Tenant
from inventory_sync.domain.tenancy import CredentialIn, MemberIn, TenantCreate, TenantPatch
from inventory_sync.errors import Conflict, Forbidden, NotFound, Unavailable
from inventory_sync.services.access import Identity
from inventory_sync.services.tenant_admin import TenantAdmin
from tests.support.fake_unit_of_work import FakeUnitOfWork, State

CLIENT_ID = "0b9e6a4c-1f2d-4e3a-9b8c-7d6e5f4a3b2c"
ADMIN = Identity("root", "root@example.com", "Root", admin=True)


class Secrets:
    """Secrets Manager as the service sees it: put returns what undoing needs, restore undoes."""

    def __init__(self, refuse: bool = False) -> None:
        self.values: dict[int, str] = {}
        self.refuse = refuse

    def put(self, tenant_id: int, value: dict[str, str]) -> StoredCredential:
        if self.refuse:
            raise CredentialStoreError("refused")
        previous = self.values.get(tenant_id)
        self.values[tenant_id] = json.dumps(value)
        return StoredCredential(tenant_id, f"v{len(self.values)}", previous)

    def restore(self, stored: StoredCredential) -> bool:
        if stored.previous_value is None:
            self.values.pop(stored.tenant_id, None)
        else:
            self.values[stored.tenant_id] = stored.previous_value
        return True


class CommitFails(FakeUnitOfWork):
    """The database refuses the commit (a deferred constraint, a lost connection)."""

    def commit(self) -> None:
        raise psycopg.OperationalError("the connection was lost")


def admin_of(uow: FakeUnitOfWork, secrets: Secrets) -> tuple[TenantAdmin, list[Tenant]]:
    changed: list[Tenant] = []
    return TenantAdmin(uow, secrets, changed.append), changed


def onboard(service: TenantAdmin, name: str = "Fabrikam") -> int:
    body = TenantCreate(name=name, graph_tenant_id=f"{name.lower()}.example",
                        credential=CredentialIn(client_id=CLIENT_ID, client_secret=SecretStr("hunter2-secret")))
    return service.create(ADMIN, body, "c1").id


def who(subject: str) -> Identity:
    return Identity(subject, None, None)


def test_an_administrator_onboards_with_events_and_the_secret_stored_once_committed() -> None:
    uow, secrets = FakeUnitOfWork(State()), Secrets()
    service, changed = admin_of(uow, secrets)
    tenant_id = onboard(service)
    assert [e.action for e in uow.state.events()] == ["tenant.created", "tenant.credential.set"]
    assert "hunter2-secret" not in repr(uow.state.audit) and json.loads(secrets.values[tenant_id]) == {
        "client_secret": "hunter2-secret"}
    assert [t.id for t in changed] == [tenant_id]  # caches of the old credential dropped after the commit
    with pytest.raises(Conflict, match="already onboarded"):
        onboard(service)
    with pytest.raises(Forbidden):
        service.create(who("mallory"), TenantCreate(name="X", graph_tenant_id="x.example", credential=CredentialIn(
            client_id=CLIENT_ID, client_secret=SecretStr("s"))), "c2")
    assert len(uow.state.tenants) == 1


def test_a_change_that_does_not_commit_takes_its_secret_back() -> None:
    uow, secrets = CommitFails(State()), Secrets()
    service, changed = admin_of(uow, secrets)
    with pytest.raises(Unavailable, match="could not be committed"):
        onboard(service)
    assert not uow.state.tenants and not uow.state.audit and not secrets.values and not changed


def test_a_refused_secret_changes_nothing() -> None:
    uow = FakeUnitOfWork(State())
    service, _ = admin_of(uow, Secrets(refuse=True))
    with pytest.raises(Unavailable, match="Secrets Manager"):
        onboard(service)
    assert not uow.state.tenants and not uow.state.audit


def test_owners_manage_members_and_a_tenant_keeps_an_owner() -> None:
    uow = FakeUnitOfWork(State())
    service, _ = admin_of(uow, Secrets())
    tenant_id = onboard(service)
    created, bob = service.put_member(ADMIN, tenant_id, MemberIn(subject="bob", role="owner"), "c")
    assert created and bob.role == "owner"
    with pytest.raises(Conflict, match="keeps at least one owner"):
        service.put_member(who("bob"), tenant_id, MemberIn(subject="bob", role="reader"), "c")
    with pytest.raises(Conflict, match="keeps at least one owner"):
        service.remove_member(who("bob"), tenant_id, bob.user_id, "c")
    service.put_member(who("bob"), tenant_id, MemberIn(subject="carol", role="operator"), "c")
    with pytest.raises(Forbidden):  # an operator manages no members
        service.put_member(who("carol"), tenant_id, MemberIn(subject="dave", role="reader"), "c")
    with pytest.raises(NotFound):  # a stranger learns nothing
        service.members(who("mallory"), tenant_id)
    service.put_member(who("bob"), tenant_id, MemberIn(subject="carol", role="owner"), "c")
    service.remove_member(who("carol"), tenant_id, bob.user_id, "c")
    assert [(m.subject, m.role) for m in service.members(ADMIN, tenant_id)] == [("carol", "owner")]
    assert [e.action for e in uow.state.events()][2:] == ["membership.added", "membership.added",
                                                           "membership.changed", "membership.removed"]


def test_only_administrators_change_a_tenant_and_strangers_get_404() -> None:
    uow = FakeUnitOfWork(State())
    service, _ = admin_of(uow, Secrets())
    tenant_id = onboard(service)
    service.put_member(ADMIN, tenant_id, MemberIn(subject="bob", role="owner"), "c")
    with pytest.raises(NotFound):
        service.update(who("mallory"), tenant_id, TenantPatch(status="inactive"), "c")
    with pytest.raises(Forbidden):
        service.update(who("bob"), tenant_id, TenantPatch(status="inactive"), "c")
    changed = service.update(ADMIN, tenant_id, TenantPatch(status="inactive"), "c")
    assert changed.status == "inactive" and uow.state.events()[-1].metadata == {
        "changes": {"status": {"from": "active", "to": "inactive"}}}
    before = len(uow.state.audit)
    service.update(ADMIN, tenant_id, TenantPatch(status="inactive"), "c")  # nothing changes: no event
    assert len(uow.state.audit) == before
