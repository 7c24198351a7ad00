"""Text from outside (device reports, locations, names admins typed) inside markdown replies."""
from __future__ import annotations

import re

_MARKUP = re.compile(r"([\\`*_\[\]()<>])")  # what makes links, emphasis, code or HTML


def literal(text: str) -> str:
    """`text` escaped so that Teams and Web Chat show it as typed, never as a link or markup."""
    return _MARKUP.sub(r"\\\1", text)
