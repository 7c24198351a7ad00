"""Routing one chat turn to the interaction it asks for, through the gate.

Typed text names a command, a card submit names its action in `value.action`, a message
carrying files is an upload, and a file consent answer goes to the files feature. An
unknown command gets "Did you mean ...?" from the menu; an unknown button a plain answer.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from bot.chat.gate import Gate
from bot.chat.interactions import HELP_FLAGS, Command, CommandCall, Interactions, split_args, split_command
from bot.chat.markdown import code
from bot.chat.submission import Submission
from bot.chat.turn import ChatTurn, ConsentAnswer, IncomingFile

log = logging.getLogger(__name__)


class Greeter(Protocol):
    """What the help feature offers the dispatcher besides its declared interactions."""

    async def welcome(self, turn: ChatTurn) -> None: ...

    async def show_command(self, turn: ChatTurn, command: Command) -> None: ...


class Dispatcher:
    def __init__(self, interactions: Interactions, gate: Gate, greeter: Greeter) -> None:
        self._interactions = interactions
        self._gate = gate
        self._greeter = greeter

    async def message(self, turn: ChatTurn, text: str, value: Any, files: Sequence[IncomingFile]) -> None:
        if isinstance(value, dict) and "action" in value:
            await self.submit(turn, value)
        elif files:
            await self._files(turn, "upload", files)
        else:
            await self.typed(turn, text or "help")

    async def typed(self, turn: ChatTurn, text: str) -> None:
        word, rest = split_command(text)
        bound = self._interactions.command(word)
        if bound is None:
            await turn.say(self._unknown(word, turn.is_admin))
            return
        command = bound.declaration
        assert isinstance(command, Command)

        async def run() -> None:
            args = split_args(command, rest)
            if args and args[0] in HELP_FLAGS:
                await self._greeter.show_command(turn, command)
            else:
                await bound.run(turn, CommandCall(command, args, rest))

        await self._gate.run(turn, command, run)

    async def submit(self, turn: ChatTurn, value: dict[str, Any]) -> None:
        name, card_id = value.get("action"), value.get("card_id")
        bound = self._interactions.action(name) if isinstance(name, str) else None
        if bound is None:
            # Not str(name): a forged action may be a list nested a thousand deep.
            shown = name[:40] if isinstance(name, str) else f"<{type(name).__name__}>"
            log.warning("unknown card action %r from %s in tenant %s", shown, turn.speaker.user_id, turn.tenant_id)
            await turn.say("I don't recognize that card's button. Type `help` for the current cards.")
            return
        submission = Submission(bound.declaration.name, card_id if isinstance(card_id, str) else "", value)  # type: ignore[union-attr]
        await self._gate.run(turn, bound.declaration, lambda: bound.run(turn, submission))

    async def consent(self, turn: ChatTurn, answer: ConsentAnswer) -> None:
        await self._files(turn, "consent", answer)

    async def installed(self, turn: ChatTurn) -> None:
        await self._greeter.welcome(turn)

    async def _files(self, turn: ChatTurn, kind: str, payload: object) -> None:
        bound = self._interactions.files(kind)
        if bound is None:
            await turn.say("I don't take files here. Type `help` to see what I can do.")
            return
        await self._gate.run(turn, bound.declaration, lambda: bound.run(turn, payload))

    def _unknown(self, word: str, is_admin: bool) -> str:
        shown = word[:40]
        suggestions = self._interactions.menu.suggestions(word, is_admin)
        if suggestions:
            options = " or ".join(f"`{name}`" for name in suggestions)
            return f"I don't know the command {code(shown)}. Did you mean {options}? Type `help` to see every command."
        return f"I don't know the command {code(shown)}. Type `help` to see every command."
