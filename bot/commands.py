"""The command registry: every chat command declared once, with its help.

A command is an async function decorated with `@registry.command(...)`, which records
its name, one-line summary, usage and whether only admins may run it. `help`, `help
<command>` and "Did you mean ...?" are all generated from this one registry.
"""
from __future__ import annotations

import difflib
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

Handler = Callable[..., Awaitable[None]]
H = TypeVar("H", bound=Handler)


class CommandError(Exception):
    """Base of every reason a typed command is not run."""


class HelpRequested(CommandError):
    """The user asked for a command's usage (`help add`, `add --help`)."""

    def __init__(self, command: Command) -> None:
        super().__init__(command.name)
        self.command = command


class ArgumentParseError(CommandError):
    """The arguments don't fit the command; `message` says why."""

    def __init__(self, message: str, command: Command | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.command = command


class UnknownCommand(CommandError):
    def __init__(self, word: str, suggestions: list[str]) -> None:
        super().__init__(word)
        self.word = word
        self.suggestions = suggestions


class NotAuthorized(CommandError):
    def __init__(self, command: Command) -> None:
        super().__init__(command.name)
        self.command = command


@dataclass(frozen=True)
class Command:
    name: str
    summary: str
    usage: str
    admin_only: bool
    handler: Handler


@dataclass(frozen=True)
class ParsedCommand:
    command: Command
    args: list[str]
    raw_args: str  # the text after the command word, as typed


class Registry:
    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}

    def command(self, name: str, *, summary: str, usage: str, admin_only: bool = True) -> Callable[[H], H]:
        def register(handler: H) -> H:
            if name in self._commands:
                raise ValueError(f"command {name!r} registered twice")
            self._commands[name] = Command(name, summary, usage, admin_only, handler)
            return handler

        return register

    def get(self, name: str) -> Command | None:
        return self._commands.get(name.lower())

    def visible_to(self, is_admin: bool) -> list[Command]:
        return [c for c in self._commands.values() if is_admin or not c.admin_only]

    def suggestions(self, word: str, is_admin: bool) -> list[str]:
        names = [c.name for c in self.visible_to(is_admin)]
        return difflib.get_close_matches(word.lower(), names, n=3, cutoff=0.6)

    def parse(self, text: str, is_admin: bool) -> ParsedCommand:
        """Split typed text into a known command and its arguments, or raise why not."""
        word, _, rest = text.strip().partition(" ")
        rest = rest.strip()
        command = self.get(word)
        if command is None:
            raise UnknownCommand(word, self.suggestions(word, is_admin))
        if command.admin_only and not is_admin:
            raise NotAuthorized(command)
        args = _split(rest, command)
        if args and args[0] in ("--help", "-h", "/?"):
            raise HelpRequested(command)
        return ParsedCommand(command, args, rest)


def _split(text: str, command: Command) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as error:  # unbalanced quotes
        raise ArgumentParseError(f"I couldn't read the arguments ({error}).", command) from None


def expect_args(parsed: ParsedCommand, minimum: int, maximum: int | None = None) -> list[str]:
    """The arguments, if their count is within bounds; else a usage error."""
    count = len(parsed.args)
    if count < minimum:
        raise ArgumentParseError(f"`{parsed.command.name}` needs more than that.", parsed.command)
    if maximum is not None and count > maximum:
        raise ArgumentParseError(f"Too many arguments: {' '.join(parsed.args[maximum:])!r}.", parsed.command)
    return parsed.args



REGISTRY = Registry()  # the one registry every command module declares into
