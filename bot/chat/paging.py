"""Pages of long lists: `page N` as typed, and how many pages a list fills."""
from __future__ import annotations

import math
import re

from bot.chat.interactions import CommandCall, UsageError

MAX_PAGE = 100_000
# ASCII digits only, and few of them: str.isdigit() also accepts "²" and other digits
# int() refuses, and int() of thousands of digits is slow or refused outright.
_PAGE = re.compile(r"[0-9]{1,6}")


def page_number(value: object) -> int | None:
    """A page number from typed or submitted input (text or a JSON integer), or None."""
    if isinstance(value, str) and _PAGE.fullmatch(value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_PAGE:
        return value
    return None


def typed_page(args: list[str], call: CommandCall) -> int:
    """`page N` at the end of a command's (lower-cased) arguments; 1 when absent."""
    if not args:
        return 1
    page = page_number(args[1]) if len(args) == 2 and args[0] == "page" else None
    if page is not None:
        return page
    raise UsageError("Write the page as `page N`, with N a number from 1.", call.command)


def page_count(count: int, per_page: int) -> int:
    return max(1, math.ceil(count / per_page))
