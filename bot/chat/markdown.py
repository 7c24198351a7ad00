"""Text from outside (what users typed, device reports, locations, names) inside markdown
replies: always shown as typed, never as a link, emphasis, code or HTML."""
from __future__ import annotations

import re

_MARKUP = re.compile(r"([\\`*_\[\]()<>#!|~])")  # what makes links, emphasis, code, headings or HTML


def literal(text: str) -> str:
    """`text` escaped so that Teams and Web Chat show it as typed, never as a link or markup."""
    return _MARKUP.sub(r"\\\1", text)


def code(text: str) -> str:
    """`text` as inline code (shown as typed, in a monospace font). Text that could close
    the code span (a backtick) or break the line is escaped as plain text instead."""
    if not text or "`" in text or not text.isprintable():
        return literal(" ".join(text.split())) or '""'
    return f"`{text}`"
