"""Reading an uploaded MAC file into rows, or refusing it with a reason.

Accepted: UTF-8 with or without a byte order mark, UTF-16 with one (Excel's "Unicode
text"), Windows-1252 (Excel's plain "CSV" on Windows) as a last resort; comma, semicolon
or tab separated; a header naming the MAC column (`MAC id`, `MAC ID`, `mac_address`,
`MAC address`, `MAC`) and optionally `Location`, matched ignoring case, spaces,
underscores and dashes, or no header at all with the MAC in the first column. Blank lines
are skipped. Workbooks, binary files and empty files are refused with what to do instead.
Parsing decides by content (and by name for workbooks), never by the sender's contentType.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Final

from bot.chat.markdown import literal
from bot.files.errors import FileRefused

MAX_ROWS: Final = 50_000
MAC_HEADERS: Final = frozenset({"macid", "macaddress", "mac"})
LOCATION_HEADERS: Final = frozenset({"location"})
WORKBOOK_EXTENSIONS: Final = frozenset({".xlsx", ".xlsm", ".xlsb", ".xls", ".ods", ".numbers"})
_SAVE_AS_CSV: Final = ("Open it in Excel and use File > Save As > **CSV UTF-8 (Comma delimited)**, "
                       "then send me the .csv file.")
_DELIMITERS: Final = (",", ";", "\t")  # in order of preference when the content can't tell
_SNIFF_LINES: Final = 20
_SNIFF_CHARS: Final = 64 * 1024
_HEADER_NOISE = re.compile(r"[\s_\-.]+")
_MAC_LIKE = re.compile(r"[0-9A-Fa-f]{8,16}")
_MAC_SEPARATORS = re.compile(r"[\s\-:.]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FORMULA_NEUTRALIZED = re.compile(r"^'[=+\-@]")
_MAGIC: Final = (
    (b"PK\x03\x04", "a ZIP archive, which is what an Excel workbook (.xlsx) is"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Office file such as an old Excel workbook (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
)


@dataclass(frozen=True)
class UploadRow:
    line: int  # 1-based line in the file where the row starts, header included
    mac_text: str
    location: str


@dataclass(frozen=True)
class UploadTable:
    rows: list[UploadRow]
    encoding: str  # as an admin would name it: "UTF-8", "UTF-16", "Windows-1252"
    delimiter: str
    has_header: bool


def refuse_by_name(name: str) -> None:
    """Refuse a workbook before downloading it: its name is enough to know."""
    suffix = PurePosixPath(name.lower()).suffix
    if suffix in WORKBOOK_EXTENSIONS:
        raise FileRefused(f"**{shown_name(name)}** is a spreadsheet workbook ({suffix}), not a CSV file. "
                          f"{_SAVE_AS_CSV}")


def parse_upload(data: bytes, name: str) -> UploadTable:
    """The device rows of an uploaded file; FileRefused if it is not a MAC file."""
    text, encoding = decode(data, name)
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = _records(reader)
        first_line, first = next(records, (0, []))
        if not first:
            raise FileRefused(f"**{shown_name(name)}** is empty: it has no rows. "
                              "Fill in the template and send it again.")
        mac_col, loc_col, has_header = _columns(first, first_line, name)
        rows: list[UploadRow] = [] if has_header else [_row(first_line, first, mac_col, loc_col)]
        for line, cells in records:
            rows.append(_row(line, cells, mac_col, loc_col))
            if len(rows) > MAX_ROWS:
                raise FileRefused(f"**{shown_name(name)}** has more than {MAX_ROWS:,} rows. "
                                  f"Split it into files of at most {MAX_ROWS:,} rows and send them one by one.")
    except csv.Error as error:
        raise FileRefused(f"I couldn't read **{shown_name(name)}** as CSV near line {reader.line_num} ({error}). "
                          "Check that the file is a plain CSV made from the template.") from None
    if not rows:
        raise FileRefused(f"**{shown_name(name)}** has a header but no device rows. "
                          "Add one row per device under the header and send it again.")
    return UploadTable(rows, encoding, delimiter, has_header)


def decode(data: bytes, name: str) -> tuple[str, str]:
    """The file's text and the encoding's name; FileRefused for empty or binary files."""
    if not data.strip():
        raise FileRefused(f"**{shown_name(name)}** is empty. Fill in the template and send it again.")
    for magic, what in _MAGIC:
        if data.startswith(magic):
            hint = _SAVE_AS_CSV if "Excel" in what else "Send a CSV file made from the template (type `template`)."
            raise FileRefused(f"**{shown_name(name)}** is {what}, not a CSV file. {hint}")
    text, encoding = _decode_text(data, name)
    if not text.strip():
        raise FileRefused(f"**{shown_name(name)}** is empty. Fill in the template and send it again.")
    # A stray control character is one bad row (refused on its own, with its line); many
    # of them mean the file is not text at all.
    if len(_CONTROL.findall(text)) > max(2, len(text) // 100):
        raise _binary(name)
    return text, encoding


def _decode_text(data: bytes, name: str) -> tuple[str, str]:
    if data.startswith(codecs.BOM_UTF8):
        return _strict(data[len(codecs.BOM_UTF8):], "utf-8", name), "UTF-8"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict(data, "utf-16", name), "UTF-16"
    if b"\x00" in data:
        if _utf16le_without_bom(data):
            return _strict(data, "utf-16-le", name), "UTF-16"
        raise _binary(name)
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        # Excel's plain "CSV (Comma delimited)" on Windows writes the ANSI code page.
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        raise _binary(name) from None


def _strict(data: bytes, codec: str, name: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        raise FileRefused(f"**{shown_name(name)}** says it is {codec.upper()} text but isn't valid {codec.upper()}. "
                          "Save it again as CSV UTF-8 and send it.") from None


def _utf16le_without_bom(data: bytes) -> bool:
    sample = data[:512]
    return len(sample) >= 4 and all(b == 0 for b in sample[1::2]) and all(sample[0::2])


def _binary(name: str) -> FileRefused:
    return FileRefused(f"**{shown_name(name)}** is not a text file (it holds binary data). "
                       "Send a CSV file made from the template (type `template` to get it).")


def sniff_delimiter(text: str) -> str:
    """The separator under which the first lines look most like MAC rows or a MAC header."""
    sample = [line for line in text[:_SNIFF_CHARS].splitlines() if line.strip()][:_SNIFF_LINES]

    def score(delimiter: str) -> int:
        total = 0
        try:
            for cells in csv.reader(sample, delimiter=delimiter):
                if any(_header_key(c) in MAC_HEADERS for c in cells) or (cells and looks_like_mac(cells[0])):
                    total += 2
                if len(cells) > 1:
                    total += 1
        except csv.Error:  # the parse proper reports it, with its line
            pass
        return total

    # max() keeps the first of equals, so ties go to the order of preference.
    return max(_DELIMITERS, key=score)


def looks_like_mac(cell: str) -> bool:
    """An attempt at a MAC ID (it may still be invalid): hex digits and separators only."""
    return bool(_MAC_LIKE.fullmatch(_MAC_SEPARATORS.sub("", cell.strip().lstrip("\ufeff"))))


def _header_key(cell: str) -> str:
    return _HEADER_NOISE.sub("", cell.strip().lstrip("\ufeff").lower())


def _records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """(line the record starts on, cells) for every record with a non-blank cell."""
    start = 1
    for cells in reader:
        if any(c.strip() for c in cells):
            yield start, cells
        start = reader.line_num + 1


def _columns(first: Sequence[str], line: int, name: str) -> tuple[int, int | None, bool]:
    """(MAC column, Location column or None, whether `first` is a header)."""
    keys = [_header_key(c) for c in first]
    mac_col = next((i for i, k in enumerate(keys) if k in MAC_HEADERS), None)
    if mac_col is not None:
        loc_col = next((i for i, k in enumerate(keys) if k in LOCATION_HEADERS), None)
        return mac_col, loc_col, True
    if looks_like_mac(first[0]):
        return 0, 1, False
    shown = ", ".join(f"`{clean_cell(c)[:30]}`" for c in first[:4])
    raise FileRefused(
        f"I couldn't find the MAC id column in **{shown_name(name)}**: line {line} ({shown}) is neither a "
        "header with a `MAC id` column nor a row starting with a MAC ID. Use the template's header "
        "`MAC id,Location` (also accepted: `MAC address`, `mac_address`)."
    )


def _row(line: int, cells: Sequence[str], mac_col: int, loc_col: int | None) -> UploadRow:
    mac = cells[mac_col] if mac_col < len(cells) else ""
    location = cells[loc_col] if loc_col is not None and loc_col < len(cells) else ""
    return UploadRow(line, clean_cell(mac), clean_cell(location))


def clean_cell(cell: str) -> str:
    """A cell trimmed, with the apostrophe our own exports put before formula-like text removed."""
    value = cell.strip().lstrip("\ufeff")
    return value[1:] if _FORMULA_NEUTRALIZED.match(value) else value


def shown_name(name: str) -> str:
    """A file name safe to put in markdown: short, control characters dropped, markup escaped
    (so `my_devices.csv` still reads as typed)."""
    cleaned = "".join(ch for ch in name if ch.isprintable()).strip() or "the file"
    return literal(cleaned if len(cleaned) <= 80 else cleaned[:77] + "...")


def file_stem(name: str) -> str:
    """The name without its extension, reduced to characters safe in a download's file name."""
    stem = re.sub(r"[^A-Za-z0-9._ -]", "", PurePosixPath(name.replace("\\", "/")).stem).strip(" .")
    return stem[:60] or "upload"

