"""Pages of long lists: `page N` as typed, and how many pages a list fills."""
from __future__ import annotations

import math

from bot.chat.interactions import CommandCall, UsageError

MAX_PAGE = 100_000


def typed_page(args: list[str], call: CommandCall) -> int:
    """`page N` at the end of a command's (lower-cased) arguments; 1 when absent."""
    if not args:
        return 1
    if len(args) == 2 and args[0] == "page" and args[1].isdigit() and 1 <= int(args[1]) <= MAX_PAGE:
        return int(args[1])
    raise UsageError("Write the page as `page N`, with N a number from 1.", call.command)


def page_count(count: int, per_page: int) -> int:
    return max(1, math.ceil(count / per_page))
