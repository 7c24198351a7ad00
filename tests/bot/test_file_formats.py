"""The file formats without HTTP: parsing uploads, writing CSVs, the host policy, links."""
from __future__ import annotations

import codecs
import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from bot.files.csvfile import RejectedLine, export_csv, neutralize, rejected_csv, template_csv
from bot.files.errors import FileRefused
from bot.files.fetch import HostPolicy, format_size
from bot.files.parse import MAX_ROWS, parse_upload, refuse_by_name, sniff_delimiter
from provisioning.devices import Device, DeviceState, VerificationCode

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ROWS = [("00:1A:2B:3C:4D:5E", "Lobby"), ("001A.2B3C.4D60", "Room 2, floor 1")]


def rows_of(data: bytes) -> list[tuple[int, str, str]]:
    return [(r.line, r.mac_text, r.location) for r in parse_upload(data, "devices.csv").rows]


@pytest.mark.parametrize("header", ["MAC id", "MAC ID", "mac_address", "MAC address", " mac  Address ", "MAC-ID"])
@pytest.mark.parametrize("location", ["Location", "LOCATION", " location "])
def test_header_aliases_are_matched_ignoring_case_and_spaces(header: str, location: str) -> None:
    data = f"{header},{location}\n00:1A:2B:3C:4D:5E,Lobby\n".encode()
    assert rows_of(data) == [(2, "00:1A:2B:3C:4D:5E", "Lobby")]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_every_encoding_and_separator(encoding: str, delimiter: str) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(["MAC id", "Location"])
    writer.writerows([("00:1A:2B:3C:4D:5E", "Café, hall"), ("001A.2B3C.4D60", "Room 2; floor 1")])
    data = out.getvalue().encode(encoding)
    table = parse_upload(data, "x.csv")
    assert table.delimiter == delimiter
    assert [(r.mac_text, r.location) for r in table.rows] == [("00:1A:2B:3C:4D:5E", "Café, hall"),
                                                               ("001A.2B3C.4D60", "Room 2; floor 1")]


def test_the_bom_never_reaches_the_first_header() -> None:
    data = codecs.BOM_UTF8 + b"MAC id;Location\r\n00:1A:2B:3C:4D:5E;Lobby\r\n"
    assert parse_upload(data, "x.csv").has_header


def test_a_file_without_header_takes_the_mac_from_the_first_column() -> None:
    data = b"00:1A:2B:3C:4D:5E;Lobby\n001A2B3C4D60;Room 2, floor 1\n"
    table = parse_upload(data, "x.csv")
    assert not table.has_header and table.delimiter == ";"
    assert rows_of(data) == [(1, "00:1A:2B:3C:4D:5E", "Lobby"), (2, "001A2B3C4D60", "Room 2, floor 1")]


def test_a_mac_only_file_is_accepted() -> None:
    assert rows_of(b"001A2B3C4D5E\n001A2B3C4D60\n") == [(1, "001A2B3C4D5E", ""), (2, "001A2B3C4D60", "")]


def test_the_mac_column_may_be_anywhere_and_other_columns_are_ignored() -> None:
    data = b"Serial number,Model,mac_address,Location\nS1,T55A,00:1A:2B:3C:4D:5E,Lobby\n"
    assert rows_of(data) == [(2, "00:1A:2B:3C:4D:5E", "Lobby")]


def test_blank_lines_are_ignored_and_line_numbers_stay_true() -> None:
    data = b"MAC id,Location\n\n00:1A:2B:3C:4D:5E,Lobby\n,\n   \n\"001A2B3C4D60\",\"two\nlines\"\n001A2B3C4D62,x\n\n"
    assert rows_of(data) == [(3, "00:1A:2B:3C:4D:5E", "Lobby"), (6, "001A2B3C4D60", "two\nlines"),
                             (8, "001A2B3C4D62", "x")]


def test_a_short_row_has_an_empty_location() -> None:
    assert rows_of(b"MAC id,Location\n00:1A:2B:3C:4D:5E\n") == [(2, "00:1A:2B:3C:4D:5E", "")]


def test_our_own_neutralized_cells_read_back_as_typed() -> None:
    assert rows_of(b"MAC id,Location\n00:1A:2B:3C:4D:5E,'=Room 1\n") == [(2, "00:1A:2B:3C:4D:5E", "=Room 1")]


def test_the_delimiter_is_the_one_under_which_rows_start_with_a_mac() -> None:
    assert sniff_delimiter("AA:BB:CC:DD:EE:00;Room 1, floor 2\n") == ";"
    assert sniff_delimiter("AA:BB:CC:DD:EE:00,Room 1; floor 2\n") == ","
    assert sniff_delimiter("AA:BB:CC:DD:EE:00\tRoom 1, floor 2\n") == "\t"


@pytest.mark.parametrize(("data", "says"), [
    (b"", "is empty"),
    (b"\n\r\n  \n", "is empty"),
    (codecs.BOM_UTF8, "is empty"),
    ("\n".encode("utf-16"), "is empty"),
    (b"MAC id,Location\n", "no device rows"),
    (b"PK\x03\x04\x14\x00\x06\x00rest of a workbook", "Excel workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old", ".xls"),
    (b"%PDF-1.7\n", "PDF"),
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (bytes(range(256)) * 4, "binary data"),
    (b"MAC id,Location\n" + b"00:1A:2B:3C:4D:5E,Lo\x01\x02\x03\x04bby\n" * 3, "binary data"),
    (b"Device,Where\nx,y\n", "couldn't find the MAC id column"),
    (codecs.BOM_UTF8 + b"\xff\xfe\xfa", "isn't valid UTF-8"),
])
def test_garbage_gets_a_clear_reason(data: bytes, says: str) -> None:
    with pytest.raises(FileRefused) as refused:
        parse_upload(data, "devices.csv")
    assert says in refused.value.message
    assert "devices.csv" in refused.value.message


@pytest.mark.parametrize("name", ["devices.xlsx", "DEVICES.XLS", "a.ods", "b.xlsm"])
def test_workbooks_are_refused_by_name(name: str) -> None:
    with pytest.raises(FileRefused, match="Save As"):
        refuse_by_name(name)


def test_csv_and_text_names_pass_the_name_check() -> None:
    for name in ("devices.csv", "devices.txt", "devices.tsv", "devices"):
        refuse_by_name(name)


def test_too_many_rows_is_refused() -> None:
    data = b"MAC id\n" + b"001A2B3C4D5E\n" * (MAX_ROWS + 1)
    with pytest.raises(FileRefused, match="more than 50,000 rows"):
        parse_upload(data, "x.csv")


def test_a_huge_cell_is_refused_not_crashed_on() -> None:
    with pytest.raises(FileRefused, match="couldn't read"):
        parse_upload(b"MAC id,Location\n001A2B3C4D5E,\"" + b"x" * 200_000 + b"\"\n", "x.csv")


# --- writing ------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx",
                                  '=HYPERLINK("http://evil","click")'])
def test_formula_cells_are_neutralized(cell: str) -> None:
    assert neutralize(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Lobby", "1-2", "AA-BB-CC-DD-EE-FF", "", "'=already"])
def test_other_cells_are_left_alone(cell: str) -> None:
    assert neutralize(cell) == cell


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(codecs.BOM_UTF8)
    assert b"\r\n" in data
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_template_is_the_admin_centers_header_and_one_example() -> None:
    rows = read_csv(template_csv())
    assert rows[0] == ["MAC id", "Location"]
    assert len(rows) == 2
    assert rows_of(template_csv())  # our own template reads back


def device(mac: str, location: str, code: VerificationCode | None = None,
           state: DeviceState = DeviceState.WAITING_ON_ACTIVATION) -> Device:
    return Device("t", mac, location, state, NOW, NOW, code=code)


def test_export_sorts_by_location_then_mac_and_shows_only_usable_codes() -> None:
    fresh = VerificationCode("123456789012", NOW, NOW + timedelta(hours=24), "admin")
    stale = VerificationCode("999999999999", NOW - timedelta(hours=25), NOW - timedelta(hours=1), "admin")
    devices = [device("00-1A-2B-3C-4D-62", "b room"), device("00-1A-2B-3C-4D-60", "B room", fresh),
               device("00-1A-2B-3C-4D-5E", "A room", stale),
               device("00-1A-2B-3C-4D-64", "=cmd", state=DeviceState.SIGNED_IN)]
    rows = read_csv(export_csv(devices, NOW))
    assert rows[0] == ["MAC id", "Location", "Verification code", "Code expires (UTC)", "State"]
    assert rows[1:] == [
        ["00-1A-2B-3C-4D-64", "'=cmd", "", "", "Signed in"],
        ["00-1A-2B-3C-4D-5E", "A room", "", "", "Waiting on activation"],
        ["00-1A-2B-3C-4D-60", "B room", "1234-5678-9012", "2026-11-28 09:00", "Waiting on activation"],
        ["00-1A-2B-3C-4D-62", "b room", "", "", "Waiting on activation"],
    ]


def test_rejected_rows_file_has_a_reason_column_and_neutralizes_input() -> None:
    rows = read_csv(rejected_csv([RejectedLine(3, "=cmd|' /C calc'!A0", "@x", "not a MAC")]))
    assert rows == [["Line", "MAC id", "Location", "Reason"], ["3", "'=cmd|' /C calc'!A0", "'@x", "not a MAC"]]


# --- host policy ----------------------------------------------------------------------


POLICY = HostPolicy.for_activity("http://127.0.0.1:52718/", ("*.sharepoint.com", "files.example.org"))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:52718/v3/attachments/x/views/original",
    "https://contoso.sharepoint.com/personal/a/file.csv",
    "https://contoso-my.SharePoint.com./x",
    "https://files.example.org/x",
])
def test_the_service_host_and_listed_hosts_are_allowed(url: str) -> None:
    assert POLICY.check(url, "download it")


@pytest.mark.parametrize(("url", "says"), [
    ("http://localhost:52718/x", "`localhost`, which is not a host I fetch files from"),
    ("https://127.0.0.1/other-port-same-host", "`127.0.0.1:443`"),
    ("http://169.254.169.254/latest/meta-data/", "`169.254.169.254`"),
    ("https://sharepoint.com/x", "`sharepoint.com`"),
    ("https://evilsharepoint.com/x", "`evilsharepoint.com`"),
    ("https://contoso.sharepoint.com.evil.net/x", "`contoso.sharepoint.com.evil.net`"),
    ("http://contoso.sharepoint.com/x", "plain http"),
    ("file:///etc/passwd", "only use http(s) links"),
    ("https://user:pw@contoso.sharepoint.com/x", "user name or password"),
    ("not a url", "only use http(s) links"),
])
def test_every_other_url_is_refused_with_the_reason(url: str, says: str) -> None:
    with pytest.raises(FileRefused) as refused:
        POLICY.check(url, "download **x.csv**")
    assert says in refused.value.message
    assert refused.value.message.startswith("I won't download **x.csv**")


def test_sizes_read_like_a_person_would_write_them() -> None:
    assert format_size(5 * 1024 * 1024) == "5 MB"
    assert format_size(1536 * 1024) == "1.5 MB"
    assert format_size(64 * 1024) == "64 KB"


def test_file_names_are_shown_as_typed_and_made_safe_for_downloads() -> None:
    from bot.files.parse import file_stem, shown_name

    assert shown_name("my_devices_v2.csv") == "my\\_devices\\_v2.csv"
    assert shown_name("a\u0000b[x](y).csv") == "ab\\[x\\]\\(y\\).csv"
    assert file_stem("bad_rows_file.csv") == "bad_rows_file"
    assert file_stem("..\\..\\evil/../x<y>.csv") == "xy"
    assert file_stem("***.csv") == "upload"
