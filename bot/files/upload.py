"""The upload flow: a message's file attachments, each fetched, parsed and imported.

Teams sends a file as `application/vnd.microsoft.teams.file.download.info` with
`content.downloadUrl`; the Emulator as an attachment with `contentUrl` and whatever
contentType the browser guessed. Cards and the HTML copy of a message are not files. A
file is refused before anything changes (wrong host, too large, not a MAC file); a file
that reads is imported in one store write of all its valid rows, and answered with
"Importing N rows..." and then a per-row report.
"""
from __future__ import annotations

import asyncio

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote, urlsplit

from botbuilder.schema import Activity

import cards
from bot.chat import ChatTurn, new_card_id
from bot.files.csvfile import RejectedLine, rejected_csv
from bot.files.downloads import download_url
from bot.files.errors import FileRefused
from bot.files.fetch import HostPolicy, fetch_file
from bot.files.parse import UploadRow, file_stem, parse_upload, refuse_by_name, shown_name
from provisioning.errors import InvalidMac
from provisioning.mac import parse_mac
from provisioning.service import BulkAddResult, RejectionKind

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

TEAMS_FILE_DOWNLOAD: Final = "application/vnd.microsoft.teams.file.download.info"
_NOT_FILES: Final = ("application/vnd.microsoft.card.", "application/vnd.microsoft.teams.card.", "text/html")
_TEXT_FILE_ENDINGS: Final = (".csv", ".txt", ".tsv", ".tab")
MAX_FILES_PER_MESSAGE: Final = 5


@dataclass(frozen=True)
class IncomingFile:
    name: str  # as the sender named it: untrusted
    url: str  # untrusted: checked against the host policy before use


def incoming_files(activity: Activity) -> list[IncomingFile]:
    """The files attached to a message (empty if it carries none)."""
    found: list[IncomingFile] = []
    for attachment in activity.attachments or []:
        kind = (attachment.content_type or "").lower()
        if kind == TEAMS_FILE_DOWNLOAD:
            content = attachment.content if isinstance(attachment.content, dict) else {}
            url = content.get("downloadUrl")
        elif kind.startswith(_NOT_FILES):
            continue
        else:
            url = attachment.content_url
        if isinstance(url, str) and url.strip():
            name = attachment.name if isinstance(attachment.name, str) and attachment.name.strip() else _url_name(url)
            if kind.startswith("image/") and not name.strip().lower().endswith(_TEXT_FILE_ENDINGS):
                continue  # a pasted picture beside a typed command, not a MAC file
            found.append(IncomingFile(name.strip()[:200], url.strip()))
    return found


def _url_name(url: str) -> str:
    try:
        return PurePosixPath(unquote(urlsplit(url).path)).name or "attachment"
    except ValueError:  # a malformed URL (e.g. an unclosed IPv6 bracket): fetching refuses it later
        return "attachment"


async def receive_uploads(turn: ChatTurn, files: Sequence[IncomingFile], runtime: Runtime) -> None:
    if not turn.is_admin:
        log.warning("refused an upload from %s (%s) in tenant %s: not an admin",
                    turn.speaker.user_id, turn.speaker.name, turn.tenant_id)
        await turn.say("You're not authorized to upload devices: only provisioning admins may. "
                       f"Ask the bot's operator to add your user id `{turn.speaker.user_id}` to ADMINS.")
        return
    for incoming in files[:MAX_FILES_PER_MESSAGE]:
        await import_file(turn, incoming, runtime)
    if len(files) > MAX_FILES_PER_MESSAGE:
        await turn.say(f"I read only the first {MAX_FILES_PER_MESSAGE} files of a message; "
                       "send the others in another message.")


async def import_file(turn: ChatTurn, incoming: IncomingFile, runtime: Runtime) -> None:
    name = shown_name(incoming.name)
    settings = runtime.settings
    try:
        refuse_by_name(incoming.name)
        policy = HostPolicy.for_activity(turn.activity.service_url, settings.download_hosts)
        data = await fetch_file(incoming.url, policy, name=name, max_bytes=settings.max_upload_bytes)
        # Off the event loop: a large file takes a noticeable moment to decode and split.
        table = await asyncio.to_thread(parse_upload, data, incoming.name)
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
    result = await runtime.service.add_devices(turn.tenant_id, turn.actor, [(r.mac_text, r.location) for r in rows])
    log.info("upload %r for tenant %s: %d added, %d rejected", name, turn.tenant_id, len(result.added), len(result.rejected))
    rejected = rejected_lines(rows, result)
    rejected_url = None
    if len(rejected) > cards.IMPORT_ROWS_SHOWN:
        link = runtime.downloads.put(turn.tenant_id, f"{file_stem(incoming.name)}_rejected.csv", rejected_csv(rejected),
                                     runtime.clock.now())
        rejected_url = download_url(settings.public_url, link)
    shown = [cards.RejectedRow(r.line, r.mac_text, r.reason) for r in rejected[:cards.IMPORT_ROWS_SHOWN]]
    await turn.show(cards.import_summary_card(len(result.added), len(result.already_present), len(result.invalid),
                                              shown, rejected_url, new_card_id()))


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
