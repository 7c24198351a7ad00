"""`DATABASE_URL` in any libpq form: a `postgresql://` URL, or `key=value` pairs.

asyncpg takes URLs; libpq's other form (`host=db port=5432 dbname=bot user=bot
sslmode=require`, values quoted with single quotes where they hold spaces) is turned into
the same URL, every key other than host, port, dbname, user and password kept as a
query parameter (TLS options such as `sslmode`, `sslrootcert` pass through).
"""
from __future__ import annotations

import re
from urllib.parse import quote, urlencode

_PAIR = re.compile(r"\s*([A-Za-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|[^'\s]*)")


class BadDsn(ValueError):
    """Text that is neither a postgresql:// URL nor libpq key=value pairs."""


def database_url(text: str) -> str:
    """`text` as a postgresql:// URL."""
    text = text.strip()
    if text.startswith(("postgresql://", "postgres://")):
        return text
    pairs: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = _PAIR.match(text, position)
        if match is None:
            raise BadDsn("must be a postgresql:// URL or libpq key=value pairs (host=... dbname=...)")
        key, value = match.group(1), match.group(2)
        if value.startswith("'"):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        pairs[key] = value
        position = match.end()
    if not pairs:
        raise BadDsn("is empty")
    host = pairs.pop("host", pairs.pop("hostaddr", ""))
    port = pairs.pop("port", "")
    user = pairs.pop("user", "")
    password = pairs.pop("password", "")
    database = pairs.pop("dbname", "")
    credentials = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    where = ("[" + host + "]" if ":" in host and not host.startswith("/") else quote(host, safe="/"))
    if host.startswith("/"):  # a Unix socket directory: given as a parameter, not in the authority
        pairs["host"] = host
        where = ""
    url = f"postgresql://{credentials + '@' if credentials else ''}{where}{':' + port if port and where else ''}"
    url += "/" + quote(database, safe="")
    if port and not where:
        pairs["port"] = port
    return url + ("?" + urlencode(pairs) if pairs else "")
