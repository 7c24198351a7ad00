"""Database failures as the store's own errors, so callers answer them like a full disk:
the chat says nothing was saved and why, the device API answers 503 with Retry-After."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from storage.errors import StoreWriteFailed

UNAVAILABLE = "the database is unavailable"
# What a lost, refused or timed-out connection raises (asyncpg's own, and the socket's;
# a connection cut while in use can also leave the driver in a state it reports as internal).
DATABASE_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)


def unavailable(error: BaseException) -> StoreWriteFailed:
    return StoreWriteFailed(
        f"The database could not be reached or refused the request ({type(error).__name__}); nothing was changed.",
        reason=UNAVAILABLE)


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn a failing database call into `StoreWriteFailed`."""
    try:
        yield
    except DATABASE_ERRORS as error:
        raise unavailable(error) from error
