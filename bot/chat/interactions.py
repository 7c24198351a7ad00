"""Every chat interaction declared once: typed commands, card buttons, files and file offers.

A feature is a class whose methods are marked with `@command`, `@card_action`,
`@receives_files` or `@answers_file_consent`. Each mark records what the gate, help and
the Teams manifest need: name, summary, usage, who may run it (admins only or anyone),
whether it shows secrets (one-to-one chats only) and, for commands, its place in Teams'
command menu. Help, "Did you mean ...?", the manifest's command list and every refusal
are generated from these declarations (`Menu`), and `Interactions` binds them to the
feature instances the app built.
"""
from __future__ import annotations

import difflib
import inspect
import shlex
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from bot.chat.markdown import code
from cards import actions as card_actions

F = TypeVar("F", bound=Callable[..., Awaitable[None]])
_MARK = "__interaction__"
HELP_FLAGS = ("--help", "-h", "/?")


@dataclass(frozen=True)
class Rules:
    """Who may run an interaction, and where."""

    admin_only: bool = True
    secret: str | None = None  # what it shows that only a one-to-one chat may see, e.g. "Verification codes"


@dataclass(frozen=True)
class Command:
    name: str
    summary: str  # one line, shown in help and Teams' command menu
    usage: str
    rules: Rules
    menu_rank: int  # place in Teams' command menu (lower first); the menu holds at most 12
    method: str  # the feature method that runs it


@dataclass(frozen=True)
class CardAction:
    name: str  # one of cards.actions
    rules: Rules
    method: str


@dataclass(frozen=True)
class FileHandler:
    kind: str  # "upload" (a message carrying files) or "consent" (a file consent answer)
    rules: Rules
    method: str


Declaration = Command | CardAction | FileHandler


# --- the marks -----------------------------------------------------------------------------


def command(name: str, *, summary: str, usage: str, menu_rank: int, admin_only: bool = True,
            secret: str | None = None) -> Callable[[F], F]:
    """Mark a feature method `async (self, turn, call: CommandCall)` as a typed command."""
    return _mark(lambda method: Command(name, summary, usage, Rules(admin_only, secret), menu_rank, method))


def card_action(name: str, *, admin_only: bool = True, secret: str | None = None) -> Callable[[F], F]:
    """Mark a feature method `async (self, turn, submission: Submission)` as a card button."""
    if name not in card_actions.ALL_ACTIONS:
        raise ValueError(f"{name!r} is not an action the cards send")
    return _mark(lambda method: CardAction(name, Rules(admin_only, secret), method))


def receives_files(*, admin_only: bool = True) -> Callable[[F], F]:
    """Mark a feature method `async (self, turn, files: Sequence[IncomingFile])`."""
    return _mark(lambda method: FileHandler("upload", Rules(admin_only), method))


def answers_file_consent(*, admin_only: bool = True) -> Callable[[F], F]:
    """Mark a feature method `async (self, turn, answer: ConsentAnswer)`."""
    return _mark(lambda method: FileHandler("consent", Rules(admin_only), method))


def _mark(declare: Callable[[str], Declaration]) -> Callable[[F], F]:
    def mark(method: F) -> F:
        setattr(method, _MARK, declare(method.__name__))
        return method

    return mark


class Feature:
    """A group of interactions about one task; `title` heads its part of help."""

    title: ClassVar[str]

    @classmethod
    def declarations(cls) -> list[Declaration]:
        """Its marked methods' declarations, in the order they are written."""
        return [getattr(member, _MARK) for member in vars(cls).values() if hasattr(member, _MARK)]


# --- the static menu: help, suggestions, the manifest --------------------------------------


@dataclass(frozen=True)
class MenuGroup:
    title: str
    commands: tuple[Command, ...]


class Menu:
    """The commands of the features, grouped by feature in the order given."""

    def __init__(self, features: Sequence[type[Feature]]) -> None:
        self.groups = tuple(
            MenuGroup(f.title, tuple(d for d in f.declarations() if isinstance(d, Command))) for f in features)
        self._by_name: dict[str, Command] = {}
        for group in self.groups:
            for found in group.commands:
                if found.name in self._by_name:
                    raise ValueError(f"command {found.name!r} declared twice")
                self._by_name[found.name] = found

    def __iter__(self) -> Iterator[Command]:
        return iter(self._by_name.values())

    def get(self, name: str) -> Command | None:
        return self._by_name.get(name.lower())

    def visible_to(self, is_admin: bool) -> list[MenuGroup]:
        """The groups as the asker sees them: only what they may run, empty groups left out."""
        shown = (MenuGroup(g.title, tuple(c for c in g.commands if is_admin or not c.rules.admin_only))
                 for g in self.groups)
        return [g for g in shown if g.commands]

    def suggestions(self, word: str, is_admin: bool) -> list[str]:
        names = [c.name for g in self.visible_to(is_admin) for c in g.commands]
        return difflib.get_close_matches(word.lower(), names, n=3, cutoff=0.6)

    def by_rank(self, limit: int) -> list[Command]:
        """The `limit` commands first in Teams' command menu."""
        return sorted(self, key=lambda c: c.menu_rank)[:limit]


# --- what a handler is given ---------------------------------------------------------------


class Refused(Exception):
    """A chat input that can't be acted on; `message` says why and what to do instead."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(Refused):
    """Typed arguments that don't fit the command: answered with the reason and its usage."""

    def __init__(self, message: str, command: Command | None = None) -> None:
        super().__init__(message)
        self.command = command


@dataclass(frozen=True)
class CommandCall:
    command: Command
    args: list[str]
    raw_args: str  # the text after the command word, as typed

    def expect(self, minimum: int, maximum: int | None = None) -> list[str]:
        """The arguments, if their count is within bounds; else a usage error."""
        count = len(self.args)
        if count < minimum:
            raise UsageError(f"`{self.command.name}` needs more than that.", self.command)
        if maximum is not None and count > maximum:
            raise UsageError(f"Too many arguments: {code(' '.join(self.args[maximum:])[:80])}.", self.command)
        return self.args


def split_command(text: str) -> tuple[str, str]:
    """(command word, the rest as typed)."""
    word, _, rest = text.strip().partition(" ")
    return word, rest.strip()


def split_args(command: Command, rest: str) -> list[str]:
    try:
        return shlex.split(rest)
    except ValueError as error:  # unbalanced quotes
        raise UsageError(f"I couldn't read the arguments ({error}).", command) from None


# --- bound to the running features ---------------------------------------------------------

Handler = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class Bound:
    declaration: Declaration
    run: Handler


class Interactions:
    """The declarations of the app's feature instances, each bound to its method."""

    def __init__(self, features: Sequence[Feature]) -> None:
        self.menu = Menu([type(f) for f in features])
        self._commands: dict[str, Bound] = {}
        self._actions: dict[str, Bound] = {}
        self._files: dict[str, Bound] = {}
        for feature in features:
            for declared in feature.declarations():
                run = getattr(feature, declared.method)
                if not inspect.iscoroutinefunction(run):
                    raise TypeError(f"{type(feature).__name__}.{declared.method} must be async")
                table, key = self._table_for(declared)
                if key in table:
                    raise ValueError(f"{key!r} is handled twice")
                table[key] = Bound(declared, run)
        missing = card_actions.ALL_ACTIONS - set(self._actions)
        if missing:
            raise ValueError(f"card actions nobody handles: {', '.join(sorted(missing))}")

    def _table_for(self, declared: Declaration) -> tuple[dict[str, Bound], str]:
        if isinstance(declared, Command):
            return self._commands, declared.name
        if isinstance(declared, CardAction):
            return self._actions, declared.name
        return self._files, declared.kind

    def command(self, name: str) -> Bound | None:
        return self._commands.get(name.lower())

    def action(self, name: str) -> Bound | None:
        return self._actions.get(name)

    def files(self, kind: str) -> Bound | None:
        return self._files.get(kind)

    def all(self) -> list[Bound]:
        return [*self._commands.values(), *self._actions.values(), *self._files.values()]


def describe(declared: Declaration) -> str:
    """How logs name an interaction."""
    if isinstance(declared, Command):
        return f"command {declared.name}"
    if isinstance(declared, CardAction):
        return f"card action {declared.name}"
    return "file upload" if declared.kind == "upload" else "file consent answer"

