"""A progress message for chat work that takes a while (a 50,000-row upload, `code all`).

Nothing is shown for work that ends within `FIRST_AFTER` seconds. After that, one card
says how far the work has got and is updated in place (Teams and the Emulator update a
sent activity) at most every `EVERY` seconds; the work's own answer then replaces it, so
the chat ends with one message. Where the channel can't update (expectReplies, a channel
that refuses), a few text lines at most (`MAX_LINES`), never one per row, and the
answer is sent as a new message.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import cards
from bot.chat.turn import Card, ChatTurn
from provisioning.progress import Progress

log = logging.getLogger(__name__)

FIRST_AFTER = 2.0  # seconds of work before the progress message appears
EVERY = 2.0  # seconds between updates of it
MAX_LINES = 3  # progress lines where the message can't be updated in place

T = TypeVar("T")


class ProgressMessage:
    """Shows `progress` (set by the work, read here) while `run` awaits the work."""

    def __init__(self, turn: ChatTurn, title: str, describe: Callable[[Progress], str],
                 progress: Progress | None = None) -> None:
        self.turn = turn
        self.title = title
        self.describe = describe
        self.progress = progress if progress is not None else Progress()
        self.activity_id: str | None = None  # the progress card, once sent and updatable
        self.lines_sent = 0
        self.in_place = True  # False once the channel would not update the card

    async def run(self, work: Awaitable[T]) -> T:
        """Await `work`, showing progress while it runs longer than `FIRST_AFTER`."""
        task = asyncio.ensure_future(work)
        delay = FIRST_AFTER
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=delay)
                if done:
                    return task.result()
                await self._tick()
                delay = EVERY
        except BaseException:
            task.cancel()
            raise

    async def finish(self, card: Card, text: str | None = None) -> None:
        """Send the work's answer: in place of the progress card where it can be."""
        if self.activity_id is not None and self.in_place and await self.turn.replace(self.activity_id, card):
            return
        await self.turn.show(card, text)

    async def _tick(self) -> None:
        detail = self.describe(self.progress)
        try:
            if self.in_place:
                card = cards.progress_card(self.title, detail)
                if self.activity_id is None:
                    self.activity_id = await self.turn.show(card)
                    if self.activity_id is not None:
                        return
                elif await self.turn.replace(self.activity_id, card):
                    return
                self.in_place = False
                self.lines_sent = 1  # the card already sent counts as the first line
                return
            if self.lines_sent < MAX_LINES:
                self.lines_sent += 1
                await self.turn.say(f"{self.title}: {detail}")
        except Exception:  # progress is a courtesy: a failed update never fails the work
            log.info("could not show progress of %r", self.title, exc_info=True)


def counted(unit: str, verb: str) -> Callable[[Progress], str]:
    """'12,000 of 50,000 rows checked', then '50,000 rows checked; saving...'."""
    def describe(progress: Progress) -> str:
        if progress.total and progress.done >= progress.total:
            return f"All {progress.total:,} {unit} {verb}; saving\u2026"
        if progress.total:
            return f"{progress.done:,} of {progress.total:,} {unit} {verb} so far\u2026"
        return "Working\u2026"
    return describe
