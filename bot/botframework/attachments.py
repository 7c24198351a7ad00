"""The files attached to an incoming activity, in the shapes each channel sends.

Teams sends a file as `application/vnd.microsoft.teams.file.download.info` with
`content.downloadUrl`; the Emulator as an attachment with `contentUrl` and whatever
contentType the browser guessed. Cards and the HTML copy of a message are not files, and
a pasted picture beside a typed command is not a MAC file.
"""
from __future__ import annotations

from pathlib import PurePosixPath
from typing import Final
from urllib.parse import unquote, urlsplit

from botbuilder.schema import Activity

from bot.chat.turn import IncomingFile

TEAMS_FILE_DOWNLOAD: Final = "application/vnd.microsoft.teams.file.download.info"
_NOT_FILES: Final = ("application/vnd.microsoft.card.", "application/vnd.microsoft.teams.card.", "text/html")
_TEXT_FILE_ENDINGS: Final = (".csv", ".txt", ".tsv", ".tab")


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
