"""How the cards write times, durations, codes and untrusted free text."""
from __future__ import annotations

import json
from datetime import UTC, datetime

from provisioning.codes import format_verification_code

__all__ = ["clip", "clip_json", "format_code", "format_time_left", "format_utc"]

ELLIPSIS = "\u2026"


def _as_utc(moment: datetime) -> datetime:
    # A naive datetime in this code base is UTC by convention (the clock hands out UTC).
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_utc(moment: datetime) -> str:
    """`2026-11-27 14:05 UTC`."""
    return _as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def format_time_left(expires_at: datetime, now: datetime) -> str:
    """`23 h 59 min left`, `14 min left`, `less than 1 min left` or `expired`.

    Rounded down, so the card never promises more time than there is.
    """
    seconds = int((_as_utc(expires_at) - _as_utc(now)).total_seconds())
    if seconds <= 0:
        return "expired"
    minutes = seconds // 60
    if minutes == 0:
        return "less than 1 min left"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min left" if hours else f"{minutes} min left"


def format_code(value: str) -> str:
    """A verification code as `1234-5678-9012`."""
    return format_verification_code(value)


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending in an ellipsis if it was cut.

    Bounds what text from outside (device-reported models, file rows) can add to a card.
    """
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def clip_json(text: str, max_bytes: int) -> str:
    """`text` cut, with an ellipsis, so it takes at most `max_bytes` in the card's JSON (as
    the connector writes it, non-ASCII escaped): a bot sentence of a few hundred ASCII
    characters stays whole, a run of emoji (12 bytes each) is cut after a few dozen."""
    if _json_size(text) <= max_bytes:
        return text
    low, high = 0, len(text)  # the longest prefix that fits with the ellipsis
    while low < high:
        middle = (low + high + 1) // 2
        if _json_size(text[:middle] + ELLIPSIS) <= max_bytes:
            low = middle
        else:
            high = middle - 1
    return text[:low] + ELLIPSIS


def _json_size(text: str) -> int:
    return len(json.dumps(text)) - 2
