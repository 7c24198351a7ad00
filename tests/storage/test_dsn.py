"""`DATABASE_URL` in either libpq form becomes the URL asyncpg takes."""
from __future__ import annotations

import pytest

from storage.postgres.dsn import BadDsn, database_url


@pytest.mark.parametrize(("given", "url"), [
    ("postgresql://u:p@db:5432/bot?sslmode=require", "postgresql://u:p@db:5432/bot?sslmode=require"),
    ("host=db port=5432 dbname=bot user=bot sslmode=require", "postgresql://bot@db:5432/bot?sslmode=require"),
    ("host=db dbname=bot user=bot password='s3cr t@/'", "postgresql://bot:s3cr%20t%40%2F@db/bot"),
    ("host=/var/run/postgresql dbname=bot", "postgresql:///bot?host=%2Fvar%2Frun%2Fpostgresql"),
    ("host=::1 port=5433 dbname=bot", "postgresql://[::1]:5433/bot"),
])
def test_libpq_forms_become_urls(given: str, url: str) -> None:
    assert database_url(given) == url


@pytest.mark.parametrize("given", ["mysql://x", "just words", "host='unterminated"])
def test_anything_else_is_refused(given: str) -> None:
    with pytest.raises(BadDsn):
        database_url(given)


async def test_a_key_value_dsn_reaches_the_database() -> None:
    from storage.postgres import open_postgres_store
    from tests.pg import base_url, skip_without_postgres

    skip_without_postgres()
    from urllib.parse import urlsplit

    parts = urlsplit(base_url())
    dsn = f"host={parts.hostname} port={parts.port or 5432} dbname={parts.path.lstrip('/')} user={parts.username}"
    store = await open_postgres_store(database_url(dsn))
    await store.close()
