"""The CSV files the bot writes: the upload template, the technician export, and the
rejected rows of an upload.

Every file is UTF-8 with a byte order mark (so Excel shows accented locations right) and
CRLF line ends. Every cell that a spreadsheet would run as a formula is neutralized with
a leading apostrophe: locations and rejected cells are typed by people and may hold
`=HYPERLINK(...)` or worse.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from provisioning.codes import format_verification_code
from provisioning.devices import Device

TEMPLATE_HEADER: Final = ("MAC id", "Location")
TEMPLATE_EXAMPLE: Final = ("AA-BB-CC-DD-EE-FF", "Building 1, Floor 2, Room 201")
EXPORT_HEADER: Final = ("MAC id", "Location", "Verification code", "Code expires (UTC)", "State")
REJECTED_HEADER: Final = ("Line", "MAC id", "Location", "Reason")
CSV_CONTENT_TYPE: Final = "text/csv; charset=utf-8"

# OWASP "CSV injection": a cell starting with one of these is read as a formula.
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class RejectedLine:
    """One uploaded row that was not added, as the rejected-rows file lists it."""

    line: int
    mac_text: str
    location: str
    reason: str


def neutralize(cell: str) -> str:
    """`cell` made inert for spreadsheets: a leading apostrophe if it would start a formula."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def write_csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """A whole CSV file: header and rows, every cell neutralized, UTF-8 with BOM, CRLF."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([neutralize(cell) for cell in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def template_csv() -> bytes:
    """`Template_Provisioning.csv`: the header the admin center uses and one example row."""
    return write_csv(TEMPLATE_HEADER, [TEMPLATE_EXAMPLE])


def export_csv(devices: Sequence[Device], now: datetime) -> bytes:
    """The technician file, sorted by location then MAC; a code only while it is usable."""
    ordered = sorted(devices, key=lambda d: (d.location.casefold(), d.location, d.mac))
    return write_csv(EXPORT_HEADER, [_export_row(d, now) for d in ordered])


def _export_row(device: Device, now: datetime) -> tuple[str, str, str, str, str]:
    code, expires = "", ""
    if device.code is not None and device.has_usable_code(now):
        code = format_verification_code(device.code.value)
        expires = device.code.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    return device.mac, device.location, code, expires, device.state.label


def rejected_csv(rows: Sequence[RejectedLine]) -> bytes:
    """Every rejected row of an upload with its line number and the reason."""
    return write_csv(REJECTED_HEADER, [(str(r.line), r.mac_text, r.location, r.reason) for r in rows])
