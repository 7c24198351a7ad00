"""The PostgreSQL store (`DATABASE_URL`): one database shared by every instance of the bot.

- `schema`: versioned, forward-only migrations, applied at start-up under a lock.
- `replica`: a tenant's documents in memory, where reads are served from.
- `writer`: commits made durable, each checked against the rows it read (group commit).
- `store`: opening, loading, following other instances' commits.
"""
from storage.postgres.store import PostgresStore, open_postgres_store

__all__ = ["PostgresStore", "open_postgres_store"]
