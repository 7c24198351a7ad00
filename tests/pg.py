"""A PostgreSQL database for the tests that need one: `TEST_DATABASE_URL` (default the
local server, `postgresql://postgres@127.0.0.1:5432/test`), one fresh schema per test,
dropped after it. Where no server answers, those tests skip with one line saying so.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def base_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_URL)


@cache
def unavailable() -> str | None:
    """Why PostgreSQL tests can't run here, or None if they can (asked once per run)."""
    try:
        import asyncpg
    except ImportError:
        return "asyncpg is not installed"

    async def probe() -> None:
        connection = await asyncpg.connect(base_url(), timeout=3)
        await connection.close()

    try:
        # In a thread of its own: the tests ask from inside a running event loop.
        with concurrent.futures.ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, probe()).result()
    except Exception as error:
        return f"no PostgreSQL server answers at TEST_DATABASE_URL ({type(error).__name__})"
    return None


def skip_without_postgres() -> None:
    reason = unavailable()
    if reason is not None:
        pytest.skip(f"PostgreSQL tests skipped: {reason}")


def with_schema(url: str, schema: str) -> str:
    """`url` whose connections use `schema` (asyncpg passes unknown query parameters to
    the server as settings)."""
    parts = urlsplit(url)
    query = "&".join(p for p in (parts.query, urlencode({"search_path": schema})) if p)
    return urlunsplit(parts._replace(query=query))


@asynccontextmanager
async def fresh_schema() -> AsyncIterator[str]:
    """A URL on a new, empty schema, dropped afterwards."""
    import asyncpg

    skip_without_postgres()
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(base_url())
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        yield with_schema(base_url(), schema)
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()
