"""README "Deploy to AWS", step 3, run as written on PostgreSQL 15: the role it creates can apply every
migration; the recipe the README gave before (GRANT ALL ON DATABASE) cannot ("permission denied for schema
public"), which is what made the first deploy fail."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from inventory_sync.db import migrate as migrations

README = Path(__file__).resolve().parents[2] / "README.md"


def _recipe() -> str:
    text = README.read_text()
    section = text[text.index("### 3. PostgreSQL"):text.index("### 4. ")]
    return re.search(r"```sql\n(.*?)```", section, re.S).group(1)


@pytest.fixture
def names(pg) -> Iterator[dict[str, str]]:  # noqa: ANN001 - the session's server (conftest)
    suffix = f"{os.getpid()}_{secrets.token_hex(3)}"
    chosen = {"database": f"inventory_{suffix}", "role": f"inventory_sync_{suffix}",
              "password": secrets.token_urlsafe(18)}
    yield chosen
    pg.execute(f'DROP DATABASE IF EXISTS "{chosen["database"]}" WITH (FORCE)')
    pg.execute(f'DROP ROLE IF EXISTS "{chosen["role"]}"')


def _run_as_master(pg, script: str) -> None:  # noqa: ANN001
    """The statements as psql would run them for the master user, `\\c` included."""
    url = pg.admin_url
    for statement in re.sub(r"--[^\n]*", "", script).split(";"):
        statement = statement.strip()
        if statement.startswith("\\c "):
            database, statement = statement[3:].split(None, 1) if " " in statement[3:].strip() else (
                statement[3:].strip(), "")
            url = pg.url_for(database.strip())
        if statement.strip():
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(statement)


def _as_role(pg, names: dict[str, str]) -> str:  # noqa: ANN001
    params = conninfo_to_dict(pg.url_for(names["database"]))
    return make_conninfo("", **{**params, "user": names["role"], "password": names["password"]})


def test_the_readmes_role_applies_every_migration(pg, names: dict[str, str]) -> None:  # noqa: ANN001
    script = re.sub(r"\binventory\b", names["database"], _recipe())
    script = script.replace("inventory_sync", names["role"]).replace("<a generated password>", names["password"])
    assert "GRANT USAGE, CREATE ON SCHEMA public" in script
    _run_as_master(pg, script)
    applied = migrations.migrate(_as_role(pg, names))
    assert applied == [f"{m.version}_{m.name}" for m in migrations.available_migrations()]
    with psycopg.connect(_as_role(pg, names)) as conn:
        assert conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'tenants'").fetchone() == (
            names["role"],)


def test_grant_all_on_database_alone_is_not_enough_on_postgresql_15(pg, names: dict[str, str]) -> None:  # noqa: ANN001
    with psycopg.connect(pg.admin_url) as conn:
        if conn.info.server_version < 150000:
            pytest.skip("PostgreSQL 14 and older grant CREATE on schema public to everyone")
    _run_as_master(pg, f"CREATE DATABASE {names['database']}; CREATE ROLE {names['role']} LOGIN PASSWORD "
                       f"'{names['password']}'; GRANT ALL ON DATABASE {names['database']} TO {names['role']}")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for schema public"):
        migrations.migrate(_as_role(pg, names))
