"""Importing uploaded MAC files: each fetched, parsed and added in one store write.

A file is refused before anything changes (wrong host, too large, not a MAC file); a
file that reads is imported in one store write of all its valid rows, and answered with
"Importing N rows..." and then a per-row report, with a download of every rejected row
when there are more than the card shows.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Final

import cards
from bot.chat.progress import ProgressMessage, counted
from bot.chat.turn import ChatTurn, IncomingFile, new_card_id
from bot.files.csvfile import RejectedLine, rejected_csv
from bot.files.delivery import FileDesk
from bot.files.errors import FileRefused
from bot.files.fetch import HostPolicy, fetch_file
from bot.files.parse import UploadRow, UploadTable, file_stem, parse_upload, refuse_by_name, shown_name
from bot.process import collector_paused
from provisioning.errors import InvalidMac
from provisioning.mac import parse_mac
from provisioning.service import BulkAddResult, ProvisioningService, RejectionKind

log = logging.getLogger(__name__)

MAX_FILES_PER_MESSAGE: Final = 5


class Importer:
    def __init__(self, service: ProvisioningService, desk: FileDesk, download_hosts: Sequence[str],
                 max_upload_bytes: int) -> None:
        self._service = service
        self._desk = desk
        self._download_hosts = tuple(download_hosts)
        self.max_upload_bytes = max_upload_bytes

    async def receive(self, turn: ChatTurn, files: Sequence[IncomingFile]) -> None:
        for incoming in files[:MAX_FILES_PER_MESSAGE]:
            await self.import_file(turn, incoming)
        if len(files) > MAX_FILES_PER_MESSAGE:
            await turn.say(f"I read only the first {MAX_FILES_PER_MESSAGE} files of a message; "
                           "send the others in another message.")

    async def import_file(self, turn: ChatTurn, incoming: IncomingFile) -> None:
        # Reading, checking and adding up to 50,000 rows makes about a million objects: no
        # full collection meanwhile (see bot/process.py).
        with collector_paused():
            await self._import_file(turn, incoming)

    async def _import_file(self, turn: ChatTurn, incoming: IncomingFile) -> None:
        name = shown_name(incoming.name)
        try:
            refuse_by_name(incoming.name)
            policy = HostPolicy.for_activity(turn.place.service_url, self._download_hosts)
            data = await fetch_file(incoming.url, policy, name=name, max_bytes=self.max_upload_bytes)
            # Off the event loop: a large file takes a noticeable moment to decode and split.
            table, pairs = await asyncio.to_thread(_parsed, data, incoming.name)
        except FileRefused as refused:
            log.info("upload %r refused for tenant %s", name, turn.tenant_id)
            await turn.say(refused.message)
            return
        except ValueError:  # a URL too malformed to even check against the allowed hosts
            log.info("upload %r refused for tenant %s: malformed URL", name, turn.tenant_id)
            await turn.say(f"I couldn't read the address of **{name}**, so I didn't download it. "
                           "Attach the file again, or use the template and upload that.")
            return
        rows = table.rows
        await turn.say(f"Importing {len(rows):,} rows from **{name}**\u2026")
        # A large file takes seconds: a progress card after ~2 s, updated in place, replaced
        # by the report (the service reads the rows in a worker thread, counting them).
        progress = ProgressMessage(turn, f"Importing {name}", counted("rows", "checked"))
        result = await progress.run(self._service.add_devices(turn.tenant_id, turn.actor, pairs, progress.progress))
        log.info("upload %r for tenant %s: %d added, %d rejected", name, turn.tenant_id, len(result.added),
                 len(result.rejected))
        rejected = await asyncio.to_thread(rejected_lines, rows, result) if result.rejected else []
        rejected_url = None
        if len(rejected) > cards.IMPORT_ROWS_SHOWN:
            content = await asyncio.to_thread(rejected_csv, rejected)  # up to 50,000 rows: off the loop
            rejected_url = await self._desk.link(turn.tenant_id, f"{file_stem(incoming.name)}_rejected.csv", content)
        shown = [cards.RejectedRow(r.line, r.mac_text, r.reason) for r in rejected[:cards.IMPORT_ROWS_SHOWN]]
        await progress.finish(cards.import_summary_card(len(result.added), len(result.already_present),
                                                        len(result.invalid), shown, rejected_url, new_card_id()))


def _parsed(data: bytes, name: str) -> tuple[UploadTable, list[tuple[str, str]]]:
    """Worker thread: the file's rows, and each as (MAC text, location) for the service."""
    table = parse_upload(data, name)
    return table, [(row.mac_text, row.location) for row in table.rows]


def rejected_lines(rows: Sequence[UploadRow], result: BulkAddResult) -> list[RejectedLine]:
    """The rejected rows in file order, with line numbers; a repeat names the line it repeats."""
    first_lines: dict[str, int] | None = None
    found: list[RejectedLine] = []
    for rejected in sorted(result.rejected, key=lambda r: r.index):
        row = rows[rejected.index]
        reason = rejected.reason
        if rejected.kind is RejectionKind.DUPLICATE_IN_INPUT:
            first_lines = first_lines if first_lines is not None else _first_lines(rows)
            mac = parse_mac(row.mac_text)
            reason = f"{mac} is repeated: it already appears on line {first_lines[mac]}; only that line counts."
        found.append(RejectedLine(row.line, row.mac_text, row.location, reason))
    return found


def _first_lines(rows: Sequence[UploadRow]) -> dict[str, int]:
    lines: dict[str, int] = {}
    for row in rows:
        try:
            lines.setdefault(parse_mac(row.mac_text), row.line)
        except InvalidMac:
            continue
    return lines
