"""File cards: how to upload MAC IDs, an import's per-row report, and a download link."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from . import actions as a
from ._elements import Element, card, cell, heading, open_url, plain, run, submit, table, text
from ._format import clip, clip_json, format_time_left, format_utc
from .views import RejectedRow

TEMPLATE_FILE_NAME: Final = "Template_Provisioning.csv"
IMPORT_ROWS_SHOWN: Final = 10  # rejected rows listed in the card; all are in the rejected file
# File content is untrusted: bound what one row can add to the card. A MAC cell longer than
# this is not a MAC anyway; the reason is the bot's words (up to about 300 characters, such
# as an invalid MAC's reason and the forms to use instead), quoting at most a short
# excerpt: bounded in JSON bytes, so the bot's words stay whole and odd text is cut.
_CELL_MAX = 24
_REASON_MAX_BYTES = 480


def upload_help_card(card_id: str, max_size_mb: int = 5) -> Element:
    """`upload` alone: how to add devices from a file, with the template button."""
    return card([
        heading("Upload MAC IDs"),
        text(f"1. Download the template, **{TEMPLATE_FILE_NAME}**.\n"
             "2. Put one device per row: its **MAC id** (any common form, such as "
             "AA-BB-CC-DD-EE-FF or AABBCCDDEEFF) and its **Location** (up to 128 characters).\n"
             "3. Send me the file as an attachment in this chat."),
        text(f"CSV or tab-separated text, UTF-8 or UTF-16, up to {max_size_mb} MB. Valid rows are "
             "added to *Waiting on activation*; you get a report of every row that was not.",
             subtle=True),
    ], [submit("Template", a.TEMPLATE, card_id)])


def import_summary_card(added: int, already_present: int, invalid: int,
                        rejected: Sequence[RejectedRow], rejected_file_url: str | None,
                        card_id: str) -> Element:
    """The report after an upload. `rejected` holds the rejected rows in file order (all of
    them or at least the first IMPORT_ROWS_SHOWN); `rejected_file_url` links the file of all
    rejected rows with reasons, when there are more than the card lists."""
    counts = {"type": "ColumnSet", "columns": [
        {"type": "Column", "width": "stretch",
         "items": [text(str(n), size="ExtraLarge", weight="Bolder", color=color),
                   text(label, subtle=True, spacing="None")]}
        for n, label, color in ((added, "added", "Good"), (already_present, "already present", "Accent"),
                                (invalid, "invalid", "Attention" if invalid else "Default"))]}
    body: list[Element | None] = [heading("Import finished"), counts]
    shown = list(rejected[:IMPORT_ROWS_SHOWN])
    if shown:
        body.append(text("Rows not added", weight="Bolder", spacing="Medium"))
        # Two columns: beside a MAC id column, "Line" and the reasons had no room at 450 px.
        body.append(table([("Line", 1), ("MAC id and reason", 5)], [
            [cell(text(str(r.line))),
             cell(plain(run(clip(r.mac, _CELL_MAX), monospace=True, weight="Bolder") if r.mac
                        else run("(no MAC id)", subtle=True)),
                  plain(clip_json(r.reason, _REASON_MAX_BYTES), spacing="None"))]
            for r in shown]))
    not_listed = already_present + invalid - len(shown)
    if not_listed > 0:
        body.append(text(f"{not_listed} more rows were not added"
                         + (": download them all with a reason column." if rejected_file_url
                            else "."), subtle=True))
    actions: list[Element] = []
    if rejected_file_url:
        actions.append(open_url("Download rejected rows", rejected_file_url))
    if added:
        actions.append(submit("Generate codes", a.ISSUE_ALL_CODES, card_id))
    actions.append(submit("Waiting on activation", a.LIST_DEVICES, card_id, tab=a.TAB_WAITING, page=1))
    return card(body, actions, wide=bool(shown))


def download_card(title: str, file_name: str, url: str, expires_at: datetime,
                  now: datetime | None = None) -> Element:
    """A link to a file the bot serves (export, template, rejected rows) outside Teams."""
    when = format_utc(expires_at)
    if now is not None:
        when += f" ({format_time_left(expires_at, now)})"
    return card([
        heading(title),
        plain(run(file_name, monospace=True)),
        text(f"The link works until {when}.", subtle=True),
    ], [open_url("Download", url)])
