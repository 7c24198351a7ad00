"""Small view inputs the cards need where the domain has no type of its own."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CommandHelp:
    """One chat command as `help` shows it (the bot maps its registry to these)."""

    name: str  # e.g. "add"
    summary: str  # one line
    usage: str  # e.g. "add <MAC> [location ...]"
    admin_only: bool


@dataclass(frozen=True)
class HelpGroup:
    """Commands for one task (devices, codes, sign-in, files), as `help` lists them."""

    title: str
    commands: tuple[CommandHelp, ...]


@dataclass(frozen=True)
class RejectedRow:
    """An uploaded row that was not added: where it is, what it held, and why."""

    line: int  # 1-based line number in the file, header included
    mac: str  # the MAC ID cell as written in the file (may be empty or garbage)
    reason: str  # e.g. "invalid MAC ID: it has 11 hex digits" or "already in Signed in"
