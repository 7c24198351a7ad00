"""Issue 5 over HTTP: template, uploads (every format, every garbage file, refused hosts,
cut-off streams) and the technician export by link and by Teams FileConsentCard.

The fake connector serves attachment bytes (`/files/{name}`, the Emulator's
`/v3/attachments/{name}/views/original`); this module's connector also accepts Teams'
OneDrive upload (`PUT /upload/{name}`), streams without a length, and redirects.
"""
from __future__ import annotations

import asyncio
import codecs
import csv
import io
import json
import re
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import cards
from bot.files.errors import FileRefused
from bot.files.fetch import HostPolicy, fetch_file
from bot.settings import Settings
from provisioning.clock import FakeClock
from provisioning.devices import DeviceState
from tests.bot.chat import OTHER_TENANT, TEAMS_TENANT, ChatDriver, cards_in, in_tenant, submit_data, texts_in
from tests.bot.connector import FakeConnector, serving
from tests.cardcheck import validate_cards

TEAMS_FILE = "application/vnd.microsoft.teams.file.download.info"
CONSENT = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO = "application/vnd.microsoft.teams.card.file.info"
MAC1, MAC2, MAC3 = "00-1A-2B-3C-4D-5E", "00-1A-2B-3C-4D-60", "00-1A-2B-3C-4D-62"
GOOD = b"MAC id,Location\r\n00:1A:2B:3C:4D:5E,Lobby\r\n001A.2B3C.4D60,\"Room 2, floor 1\"\r\n"


@dataclass
class FileConnector(FakeConnector):
    """The fake connector plus OneDrive's upload URL, an endless stream and a redirect."""

    uploads: dict[str, tuple[bytes, dict[str, str]]] = field(default_factory=dict)

    upload_count: int = 0
    upload_delay: float = 0.0  # seconds each upload takes, to overlap two of them
    file_requests: list[str] = field(default_factory=list)
    streamed: int = 0
    stream_finished: bool = False

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_put("/upload/{name}", self._upload)
        app.router.add_get("/stream/{name}", self._stream)
        app.router.add_get("/redirect", self._redirect)
        app.router.add_get("/slow", self._slow)
        app.middlewares.append(self._log_files)
        return app

    @web.middleware
    async def _log_files(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "GET":
            self.file_requests.append(request.path)
        return await handler(request)

    async def _upload(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.upload_delay)
        self.uploads[request.match_info["name"]] = (await request.read(), dict(request.headers))
        self.upload_count += 1
        return web.json_response({"id": "file-1"}, status=201)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # no Content-Length: chunked, cut off only by the reader
        await response.prepare(request)
        chunk = b"001A2B3C4D5E,somewhere\n" * 2800  # ~64 KB
        while self.streamed < 100 * 1024 * 1024:
            await response.write(chunk)
            self.streamed += len(chunk)
        self.stream_finished = True
        return response

    async def _redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def _slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(body=GOOD)


@pytest.fixture
async def connector() -> AsyncIterator[tuple[FileConnector, str]]:
    async with serving(FileConnector()) as served:
        yield served  # type: ignore[misc]


def files_of(chat: ChatDriver) -> FileConnector:
    """The chat's connector, which in this module is the one that also serves files."""
    assert isinstance(chat.connector, FileConnector)
    return chat.connector


def devices(chat: ChatDriver, tenant: str = "local") -> dict[str, str]:
    return {d.mac: d.location for d in chat.services.service.list_devices(tenant)}


def emulator_upload(chat: ChatDriver, name: str, data: bytes | None, *, url: str | None = None) -> dict[str, Any]:
    """A message as the Emulator sends a file: contentUrl on its service, a browser-given type."""
    if data is not None:
        chat.connector.files[name] = data
    body = chat.activity(attachments=[{"contentType": "application/vnd.ms-excel", "name": name,
                                       "contentUrl": url or f"{chat.service_url}v3/attachments/{name}/views/original"}])
    body.pop("text", None)
    return body


def teams_upload(chat: ChatDriver, name: str, data: bytes, tenant: str = TEAMS_TENANT) -> dict[str, Any]:
    """A message as Teams sends a file in a personal chat: a download.info attachment."""
    chat.connector.files[name] = data
    body = in_tenant(chat.activity("teams_personal_message", text=""), tenant)
    body["attachments"] = [
        {"contentType": TEAMS_FILE, "name": name, "contentUrl": f"https://contoso-my.sharepoint.com/personal/{name}",
         "content": {"downloadUrl": f"{chat.service_url}files/{name}", "uniqueId": "5c5a1e5b", "fileType": "csv"}},
        {"contentType": "text/html", "content": "<div></div>"},
    ]
    return body


def summary(replies: list[dict[str, Any]]) -> dict[str, Any]:
    found = [c for c in cards_in(replies) if "Import finished" in str(c)]
    assert found, texts_in(replies)
    return found[0]


def counts(card: dict[str, Any]) -> tuple[int, int, int]:
    columns = card["body"][1]["columns"]
    return tuple(int(col["items"][0]["text"]) for col in columns)  # type: ignore[return-value]


def open_url(card: dict[str, Any], title: str | None = None) -> str:
    urls = [a["url"] for a in card.get("actions", []) if a["type"] == "Action.OpenUrl"
            and (title is None or a["title"] == title)]
    assert urls, card
    return urls[0]


async def download(chat: ChatDriver, url: str) -> Any:
    """GET a link the bot made (its PUBLIC_URL is not the test server's address)."""
    path = "/" + url.split("/", 3)[3]
    return await chat.client.get(path)


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


# --- uploads: formats ---------------------------------------------------------------------


def encoded(rows: list[list[str]], encoding: str, delimiter: str) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


FORMATS = {
    "utf8-comma": encoded([["MAC id", "Location"], ["00:1A:2B:3C:4D:5E", "Lobby"],
                           ["001A.2B3C.4D60", "Room 2, floor 1"]], "utf-8", ","),
    "utf8-bom-semicolon": encoded([["MAC ID", "Location"], ["00:1A:2B:3C:4D:5E", "Lobby"],
                                   ["001A.2B3C.4D60", "Room 2, floor 1"]], "utf-8-sig", ";"),
    "utf16-tab (Excel Unicode text)": encoded([["MAC address", "Location"], ["00:1A:2B:3C:4D:5E", "Lobby"],
                                               ["001A.2B3C.4D60", "Room 2, floor 1"]], "utf-16", "\t"),
    "mac_address-lowercase": encoded([["mac_address", "location"], ["00:1a:2b:3c:4d:5e", "Lobby"],
                                      ["001a2b3c4d60", "Room 2, floor 1"]], "utf-8", ","),
    "no header": encoded([["00-1A-2B-3C-4D-5E", "Lobby"], ["001A.2B3C.4D60", "Room 2, floor 1"]], "utf-8", ";"),
    "blank lines": (b"\r\n MAC  Id ,LOCATION\r\n\r\n00:1A:2B:3C:4D:5E,Lobby\r\n,\r\n\r\n"
                    b"001A.2B3C.4D60,\"Room 2, floor 1\"\r\n\r\n"),
    "windows-1252": encoded([["MAC id", "Location"], ["00:1A:2B:3C:4D:5E", "Lobby"],
                             ["001A.2B3C.4D60", "Room 2, floor 1"]], "cp1252", ","),
}


@pytest.mark.parametrize("kind", list(FORMATS))
async def test_every_format_is_imported_from_the_emulator(chat: ChatDriver, kind: str) -> None:
    replies = await chat.send(emulator_upload(chat, "devices.csv", FORMATS[kind]))
    assert replies[0]["text"] == "Importing 2 rows from **devices.csv**\u2026"
    assert counts(summary(replies)) == (2, 0, 0)
    assert devices(chat) == {MAC1: "Lobby", MAC2: "Room 2, floor 1"}


async def test_accents_survive_utf16_and_windows_1252(chat: ChatDriver) -> None:
    utf16 = encoded([["MAC id", "Location"], [MAC1, "Café Zürich"]], "utf-16", "\t")
    await chat.send(emulator_upload(chat, "a.txt", utf16))
    ansi = encoded([["MAC id", "Location"], [MAC2, "Salle à manger"]], "cp1252", ";")
    await chat.send(emulator_upload(chat, "b.csv", ansi))
    assert devices(chat) == {MAC1: "Café Zürich", MAC2: "Salle à manger"}


async def test_a_teams_file_is_fetched_from_its_download_url(chat: ChatDriver) -> None:
    replies = await chat.send(teams_upload(chat, "teams.csv", GOOD))
    assert counts(summary(replies)) == (2, 0, 0)
    assert devices(chat, TEAMS_TENANT) == {MAC1: "Lobby", MAC2: "Room 2, floor 1"}
    assert devices(chat) == {}  # the Emulator's tenant saw nothing
    assert files_of(chat).file_requests == ["/files/teams.csv"]


async def test_the_browser_given_content_type_does_not_matter(chat: ChatDriver) -> None:
    body = emulator_upload(chat, "devices.csv", GOOD)
    body["attachments"][0]["contentType"] = "image/png"
    assert counts(summary(await chat.send(body))) == (2, 0, 0)


async def test_card_attachments_are_not_uploads(chat: ChatDriver) -> None:
    body = chat.activity(text="help", attachments=[
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": {"type": "AdaptiveCard"}}])
    assert "Commands" in texts_in(await chat.send(body))


async def test_each_row_is_reported_with_its_line_and_reason(chat: ChatDriver) -> None:
    await chat.say(f"add {MAC3} Kitchen")
    data = ("MAC id,Location\n"
            f"{MAC1},Lobby\n"
            "00-1A-2B-3C-4D,Short\n"
            f"{MAC1.lower()},Lobby again\n"
            f"{MAC3},Kitchen\n"
            f"{MAC2},{'x' * 129}\n"
            "01-00-5E-00-00-01,Multicast\n").encode()
    replies = await chat.send(emulator_upload(chat, "mixed.csv", data))
    card = summary(replies)
    assert counts(card) == (1, 1, 4)
    text = texts_in([{"attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}])
    for line, reason in [(3, "hex digits"), (4, "repeated: it already appears on line 2"),
                         (5, "already in Waiting on activation"), (6, "the limit is 128"), (7, "multicast")]:
        assert re.search(rf"^{line}$.*?{re.escape(reason)}", text, re.M | re.S), (line, reason)
    assert "Download rejected rows" not in text  # every rejected row fits in the card
    assert devices(chat) == {MAC3: "Kitchen", MAC1: "Lobby"}
    validate_cards([card])


async def test_valid_rows_are_added_in_one_store_write(chat: ChatDriver) -> None:
    store = chat.services.store
    calls: list[int] = []
    original = store.tenant

    def counting(tenant_id: str):
        repo = original(tenant_id)
        commit = repo.commit

        async def one(*args: Any, **kwargs: Any) -> Any:
            calls.append(len(kwargs.get("save", args[0] if args else [])))
            return await commit(*args, **kwargs)

        repo.commit = one  # type: ignore[method-assign]
        return repo

    store.tenant = counting  # type: ignore[method-assign]
    rows = "".join(f"00-1A-2B-3C-{i // 256:02X}-{i % 256:02X},Room {i}\n" for i in range(500))
    await chat.send(emulator_upload(chat, "many.csv", ("MAC id,Location\n" + rows).encode()))
    assert calls == [500]


async def test_upload_alone_explains_how_with_the_template(chat: ChatDriver) -> None:
    card = cards_in(await chat.say("upload"))[0]
    assert "Template_Provisioning.csv" in str(card) and "5 MB" in str(card)
    submit_data(card, "template")
    again = cards_in(await chat.submit({"action": "show_upload", "card_id": "x"}))[0]
    assert again["body"] == card["body"]
    validate_cards([card])


# --- uploads: garbage changes nothing -----------------------------------------------------


def xlsx_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr("xl/workbook.xml", "<workbook/>")
    return out.getvalue()


GARBAGE = {
    "binary": ("firmware.bin", bytes(range(256)) * 64, "not a text file"),
    "xlsx named .csv": ("devices.csv", xlsx_bytes(), "Excel workbook (.xlsx)"),
    "empty": ("empty.csv", b"", "is empty"),
    "only a header": ("header.csv", b"MAC id,Location\r\n", "no device rows"),
    "no MAC column": ("people.csv", b"Name,Email\nAda,ada@example.com\n", "couldn't find the MAC id column"),
    "6 MB": ("big.csv", b"MAC id,Location\n" + b"001A2B3C4D5E,somewhere over the rainbow\n" * 160_000,
             "larger than 5 MB"),
}


@pytest.fixture
async def one_device(chat: ChatDriver) -> dict[str, str]:
    await chat.say(f"add {MAC3} Kitchen")
    return devices(chat)


@pytest.mark.parametrize("kind", list(GARBAGE))
async def test_garbage_gets_a_clear_answer_and_changes_nothing(
        chat: ChatDriver, one_device: dict[str, str], kind: str) -> None:
    name, data, says = GARBAGE[kind]
    replies = await chat.send(emulator_upload(chat, name, data))
    assert len(replies) == 1 and says in replies[0]["text"], texts_in(replies)
    assert "Importing" not in texts_in(replies)
    assert devices(chat) == one_device


async def test_an_xlsx_name_is_refused_without_downloading(chat: ChatDriver, one_device: dict[str, str]) -> None:
    replies = await chat.send(emulator_upload(chat, "devices.xlsx", xlsx_bytes()))
    assert "Save As" in replies[0]["text"] and "CSV UTF-8" in replies[0]["text"]
    assert files_of(chat).file_requests == []
    assert devices(chat) == one_device


async def test_ten_thousand_invalid_rows_are_reported_with_a_file_and_change_nothing(
        chat: ChatDriver, one_device: dict[str, str]) -> None:
    data = b"MAC id,Location\n" + b"".join(b"not-a-mac-%05d,Room %d\n" % (i, i) for i in range(10_000))
    replies = await chat.send(emulator_upload(chat, "bad.csv", data))
    assert replies[0]["text"] == "Importing 10,000 rows from **bad.csv**\u2026"
    card = summary(replies)
    assert counts(card) == (0, 0, 10_000)
    assert f"{10_000 - cards.IMPORT_ROWS_SHOWN} more rows were not added" in str(card)
    assert devices(chat) == one_device
    response = await download(chat, open_url(card, "Download rejected rows"))
    assert response.status == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="bad_rejected.csv"'
    rows = read_csv(await response.read())
    assert rows[0] == ["Line", "MAC id", "Location", "Reason"]
    assert len(rows) == 10_001
    assert rows[1][:3] == ["2", "not-a-mac-00000", "Room 0"] and "not a valid MAC ID" in rows[1][3]
    assert rows[-1][0] == "10001"
    validate_cards([card])


async def test_non_admins_cannot_upload(aiohttp_client, connector, tmp_path: Path, clock: FakeClock) -> None:
    from bot.app import create_app

    fake, url = connector
    settings = Settings(data_dir=tmp_path / "data", admins=frozenset({"someone-else"}))
    chat = ChatDriver(await aiohttp_client(await create_app(settings, clock=clock)), fake, url)
    replies = await chat.send(emulator_upload(chat, "devices.csv", GOOD))
    assert "not authorized" in replies[0]["text"]
    assert fake.file_requests == []
    assert devices(chat) == {}


# --- uploads: where files may come from ---------------------------------------------------


async def test_a_file_on_another_host_is_refused_and_never_fetched(chat: ChatDriver) -> None:
    other = chat.service_url.replace("127.0.0.1", "localhost")
    replies = await chat.send(emulator_upload(chat, "devices.csv", GOOD, url=f"{other}files/devices.csv"))
    text = replies[0]["text"]
    assert "I won't download **devices.csv**" in text and "`localhost`" in text and "DOWNLOAD_HOSTS" in text
    assert files_of(chat).file_requests == []
    assert devices(chat) == {}


async def test_an_internal_address_is_refused(chat: ChatDriver) -> None:
    replies = await chat.send(emulator_upload(chat, "x.csv", None, url="http://169.254.169.254/latest/meta-data/"))
    assert "`169.254.169.254`, which is not a host I fetch files from" in replies[0]["text"]


async def test_a_redirect_to_another_host_is_refused(chat: ChatDriver) -> None:
    chat.connector.files["devices.csv"] = GOOD
    elsewhere = chat.service_url.replace("127.0.0.1", "localhost") + "files/devices.csv"
    redirect = f"{chat.service_url}redirect?to={elsewhere}"
    replies = await chat.send(emulator_upload(chat, "devices.csv", None, url=redirect))
    assert "the download redirected to `localhost`" in replies[0]["text"]
    assert files_of(chat).file_requests == ["/redirect"]
    assert devices(chat) == {}


async def test_a_redirect_on_the_same_host_is_followed(chat: ChatDriver) -> None:
    chat.connector.files["devices.csv"] = GOOD
    target = f"{chat.service_url}files/devices.csv"
    replies = await chat.send(emulator_upload(chat, "devices.csv", None, url=f"{chat.service_url}redirect?to={target}"))
    assert counts(summary(replies)) == (2, 0, 0)


async def test_an_oversize_stream_is_cut_off(chat: ChatDriver) -> None:
    replies = await chat.send(emulator_upload(chat, "endless.csv", None, url=f"{chat.service_url}stream/endless.csv"))
    assert "larger than 5 MB" in replies[0]["text"] and "stopped downloading" in replies[0]["text"]
    await asyncio.sleep(0.05)  # let the server notice the closed connection
    assert not files_of(chat).stream_finished
    assert files_of(chat).streamed < 30 * 1024 * 1024
    assert devices(chat) == {}


async def test_a_missing_file_says_the_link_may_have_expired(chat: ChatDriver) -> None:
    replies = await chat.send(emulator_upload(chat, "gone.csv", None))
    assert "HTTP 404" in replies[0]["text"] and "send the file again" in replies[0]["text"]


async def test_a_slow_download_times_out(connector: tuple[FileConnector, str]) -> None:
    _, url = connector
    policy = HostPolicy.for_activity(url, ())
    with pytest.raises(FileRefused, match=r"took longer than 0\.2 s"):
        await fetch_file(f"{url}slow", policy, name="slow.csv", max_bytes=1024, timeout=0.2)


# --- template and export by link (Emulator) -----------------------------------------------


async def test_template_is_a_download_link(chat: ChatDriver) -> None:
    card = cards_in(await chat.say("template"))[0]
    assert "Template_Provisioning.csv" in str(card)
    response = await download(chat, open_url(card))
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"] == 'attachment; filename="Template_Provisioning.csv"'
    rows = read_csv(await response.read())
    assert rows[0] == ["MAC id", "Location"] and len(rows) == 2
    validate_cards([card])


async def test_the_template_button_on_help_works(chat: ChatDriver) -> None:
    help_card = cards_in(await chat.say("help"))[0]
    card = cards_in(await chat.submit(submit_data(help_card, "template")))[0]
    assert open_url(card).startswith("http://127.0.0.1:3978/downloads/")


async def test_filled_template_uploads_and_export_has_the_codes(chat: ChatDriver, clock: FakeClock) -> None:
    """The issue's "done when": template, fill, upload, codes for all, export."""
    template = read_csv(await (await download(chat, open_url(cards_in(await chat.say("template"))[0]))).read())
    filled = [*template[:1], ["00:1a:2b:3c:4d:62", "B hall"], ["00:1a:2b:3c:4d:60", "A hall"],
              ["00:1a:2b:3c:4d:5e", "B hall"], ["00:1a:2b:3c:4d:64", "=HYPERLINK(\"http://x\")"]]
    summary_card = summary(await chat.send(emulator_upload(chat, "filled.csv", encoded(filled, "utf-8", ","))))
    assert counts(summary_card) == (4, 0, 0)
    await chat.submit(submit_data(summary_card, "issue_all_codes"))
    card = cards_in(await chat.say("export"))[0]
    assert "Waiting on activation" in str(card)
    response = await download(chat, open_url(card))
    assert response.headers["Content-Disposition"] == 'attachment; filename="Provisioning_waiting_20261127-0900.csv"'
    rows = read_csv(await response.read())
    assert rows[0] == ["MAC id", "Location", "Verification code", "Code expires (UTC)", "State"]
    assert [r[:2] for r in rows[1:]] == [["00-1A-2B-3C-4D-64", "'=HYPERLINK(\"http://x\")"],
                                         [MAC2, "A hall"], [MAC1, "B hall"], [MAC3, "B hall"]]
    codes = {d.mac: d.code.value for d in chat.services.service.list_devices("local")}
    for mac, _, code, expires, state in rows[1:]:
        assert code.replace("-", "") == codes[mac] and re.fullmatch(r"\d{4}-\d{4}-\d{4}", code)
        assert expires == "2026-11-28 09:00" and state == "Waiting on activation"
    validate_cards([summary_card, card])


async def test_export_tabs_filter_by_state(chat: ChatDriver) -> None:
    for mac, place in ((MAC1, "Lobby"), (MAC2, "Kitchen")):
        await chat.say(f"add {mac} {place}")
    await chat.say(f"code {MAC1}")
    service = chat.services.service
    code = service.get_device("local", MAC1).code.value
    devices = chat.services.devices
    await devices.provision(devices.parse_request(
        {"mac": MAC1, "verification_code": code, "model": "Yealink T55A", "firmware_version": "58.15.0.124"}))
    assert service.get_device("local", MAC1).state is DeviceState.WAITING_FOR_SIGN_IN

    async def exported(tab: str) -> list[list[str]]:
        card = cards_in(await chat.say(f"export {tab}".strip()))[0]
        return read_csv(await (await download(chat, open_url(card))).read())[1:]

    assert [r[0] for r in await exported("")] == [MAC2]
    assert await exported("signin") == [[MAC1, "Lobby", "", "", "Waiting for sign in"]]
    assert [r[0] for r in await exported("ALL")] == [MAC2, MAC1]


async def test_codes_card_export_button_works(chat: ChatDriver) -> None:
    await chat.say(f"add {MAC1} Lobby")
    await chat.say(f"code {MAC1}")
    codes_card = cards_in(await chat.say("codes"))[0]
    card = cards_in(await chat.submit(submit_data(codes_card, "export")))[0]
    assert open_url(card).startswith("http://127.0.0.1:3978/downloads/")


async def test_export_with_nothing_to_export_or_a_bad_tab(chat: ChatDriver) -> None:
    assert "nothing to export" in texts_in(await chat.say("export"))
    assert "Usage: `export [waiting|signin|all]`" in texts_in(await chat.say("export signedin"))
    assert "unknown `tab`" in texts_in(await chat.submit({"action": "export", "card_id": "x", "tab": "../etc"}))


async def test_export_warns_about_devices_without_a_code(chat: ChatDriver) -> None:
    await chat.say(f"add {MAC1} Lobby")
    replies = await chat.say("export")
    assert "1 device(s) waiting on activation have no valid verification code" in replies[0]["text"]
    assert cards_in(replies)


async def test_an_expired_link_answers_410_and_a_forged_one_404(chat: ChatDriver, clock: FakeClock) -> None:
    url = open_url(cards_in(await chat.say("template"))[0])
    clock.advance(minutes=59)
    assert (await download(chat, url)).status == 200
    clock.advance(minutes=1)
    expired = await download(chat, url)
    assert expired.status == 410
    assert "expired at 2026-11-27 10:00 UTC" in await expired.text()
    token = url.rsplit("/", 1)[1]
    forged = url.replace(token, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    for bad in (forged, url.rsplit("/", 1)[0] + "/nope", url.rsplit("/", 1)[0] + "/" + "A" * 43):
        response = await download(chat, bad)
        assert response.status == 404 and "not valid" in await response.text()


async def test_a_link_never_serves_another_tenants_file_by_guessing(chat: ChatDriver) -> None:
    await chat.say(f"add {MAC1} Lobby")
    first = open_url(cards_in(await chat.say("export"))[0])
    second = open_url(cards_in(await chat.say("export"))[0])
    assert first != second  # every link is new and random


async def test_teams_channels_get_a_link_not_a_consent_card(chat: ChatDriver) -> None:
    replies = await chat.say("template", sample="teams_channel_message")
    assert open_url(cards_in(replies)[0]).startswith("http://127.0.0.1:3978/downloads/")


# --- export in Teams: FileConsentCard ------------------------------------------------------


async def offer(chat: ChatDriver, text: str = "export", tenant: str = TEAMS_TENANT) -> dict[str, Any]:
    replies = await chat.send(in_tenant(chat.activity("teams_personal_message", text=text), tenant))
    consent = [a for r in replies for a in r.get("attachments") or [] if a["contentType"] == CONSENT]
    assert consent, texts_in(replies)
    return consent[0]


def consent_invoke(chat: ChatDriver, action: str, context: Any, *, upload_url: str | None = None,
                   tenant: str = TEAMS_TENANT) -> dict[str, Any]:
    body = in_tenant(chat.activity("teams_personal_message"), tenant)
    body.pop("text")
    body.update(type="invoke", name="fileConsent/invoke", value={
        "type": "fileUpload", "action": action, "context": context,
        "uploadInfo": {"contentUrl": "https://contoso-my.sharepoint.com/personal/megan/Documents/export.csv",
                       "name": "export.csv", "uploadUrl": upload_url or f"{chat.service_url}upload/export",
                       "uniqueId": "1E1B3C1B-9A10-4A9B-8D8F-000000000001", "fileType": "csv"}})
    return body


async def teams_devices(chat: ChatDriver) -> None:
    body = in_tenant(chat.activity("teams_personal_message", text=f"add {MAC1} =1+1"), TEAMS_TENANT)
    await chat.send(body)
    await chat.send(in_tenant(chat.activity("teams_personal_message", text=f"code {MAC1}"), TEAMS_TENANT))


async def test_teams_export_accept_uploads_the_file_and_shows_it(chat: ChatDriver) -> None:
    await teams_devices(chat)
    card = await offer(chat)
    assert card["name"] == "Provisioning_waiting_20261127-0900.csv"
    context = card["content"]["acceptContext"]
    assert card["content"]["declineContext"] == context
    before = len(chat.connector.received)
    response = await chat.post(consent_invoke(chat, "accept", context))
    assert response.status == 200
    data, headers = files_of(chat).uploads["export"]
    assert card["content"]["sizeInBytes"] == len(data)
    assert headers["Content-Range"] == f"bytes 0-{len(data) - 1}/{len(data)}"
    rows = read_csv(data)
    assert rows[1][:2] == [MAC1, "'=1+1"] and re.fullmatch(r"\d{4}-\d{4}-\d{4}", rows[1][2])
    sent = [a for r in chat.connector.activities()[before:] for a in r.get("attachments") or []]
    assert sent == [{"contentType": FILE_INFO, "contentUrl": "https://contoso-my.sharepoint.com/personal/megan/Documents/export.csv",
                     "name": "export.csv",
                     "content": {"uniqueId": "1E1B3C1B-9A10-4A9B-8D8F-000000000001", "fileType": "csv"}}]


async def test_teams_template_uses_file_consent_too(chat: ChatDriver) -> None:
    card = await offer(chat, "template")
    assert card["name"] == "Template_Provisioning.csv"
    await chat.post(consent_invoke(chat, "accept", card["content"]["acceptContext"]))
    assert read_csv(files_of(chat).uploads["export"][0])[0] == ["MAC id", "Location"]


async def test_teams_export_decline_says_so_and_uploads_nothing(chat: ChatDriver) -> None:
    await teams_devices(chat)
    card = await offer(chat)
    before = len(chat.connector.received)
    response = await chat.post(consent_invoke(chat, "decline", card["content"]["declineContext"]))
    assert response.status == 200
    assert "didn't send **Provisioning_waiting_20261127-0900.csv**" in texts_in(chat.connector.activities()[before:])
    assert files_of(chat).uploads == {}


async def test_teams_accept_after_an_hour_says_the_offer_expired(chat: ChatDriver, clock: FakeClock) -> None:
    card = await offer(chat, "template")
    clock.advance(hours=1)
    before = len(chat.connector.received)
    await chat.post(consent_invoke(chat, "accept", card["content"]["acceptContext"]))
    assert "expired" in texts_in(chat.connector.activities()[before:])
    assert files_of(chat).uploads == {}


@pytest.mark.parametrize("context", [{"download": "A" * 43}, {}, "junk", None])
async def test_teams_accept_with_a_forged_context_uploads_nothing(chat: ChatDriver, context: Any) -> None:
    before = len(chat.connector.received)
    response = await chat.post(consent_invoke(chat, "accept", context))
    assert response.status == 200
    assert "don't have that file" in texts_in(chat.connector.activities()[before:])
    assert files_of(chat).uploads == {}


async def test_teams_accept_from_another_tenant_gets_nothing(chat: ChatDriver) -> None:
    await teams_devices(chat)
    card = await offer(chat)
    await chat.post(consent_invoke(chat, "accept", card["content"]["acceptContext"], tenant=OTHER_TENANT))
    assert files_of(chat).uploads == {}


async def test_teams_accept_never_uploads_to_another_host(chat: ChatDriver) -> None:
    card = await offer(chat, "template")
    before = len(chat.connector.received)
    await chat.post(consent_invoke(chat, "accept", card["content"]["acceptContext"],
                                   upload_url="http://169.254.169.254/upload"))
    assert "I won't upload the file" in texts_in(chat.connector.activities()[before:])


async def test_a_malformed_attachment_url_gets_a_clear_answer(chat: ChatDriver) -> None:
    body = chat.activity(text="")
    body["attachments"] = [{"contentType": "text/csv", "contentUrl": "http://[::1/devices.csv", "name": "devices.csv"}]
    text = texts_in(await chat.send(body))
    assert "Sorry, something went wrong" not in text and "devices.csv" in text


async def test_a_pasted_picture_does_not_hide_the_typed_command(chat: ChatDriver) -> None:
    body = chat.activity(text="help", attachments=[
        {"contentType": "image/png", "contentUrl": f"{chat.service_url}files/image.png", "name": "image.png"}])
    assert "Commands" in texts_in(await chat.send(body))


def test_the_service_host_counts_only_on_the_service_port() -> None:
    policy = HostPolicy.for_activity("http://localhost:3990/", ())
    assert policy.check("http://localhost:3990/v3/attachments/a/views/original", "download it")
    with pytest.raises(FileRefused):
        policy.check("http://localhost:3991/healthz", "download it")


async def test_a_file_consent_card_is_answered_once(chat: ChatDriver) -> None:
    card = await offer(chat, "template")
    await chat.post(consent_invoke(chat, "decline", card["content"]["declineContext"]))
    await chat.post(consent_invoke(chat, "accept", card["content"]["acceptContext"]))
    assert files_of(chat).upload_count == 0, "a declined offer is gone"
    card = await offer(chat, "template")
    await chat.post(consent_invoke(chat, "accept", card["content"]["acceptContext"]))
    await chat.post(consent_invoke(chat, "accept", card["content"]["acceptContext"]))
    assert files_of(chat).upload_count == 1, "an accepted offer uploads once"


async def test_two_concurrent_accepts_of_one_offer_upload_once(chat: ChatDriver) -> None:
    await teams_devices(chat)
    card = await offer(chat)
    files_of(chat).upload_delay = 0.3  # both accepts are in flight while the first uploads
    before = len(chat.connector.received)
    invoke = consent_invoke(chat, "accept", card["content"]["acceptContext"])
    first, second = await asyncio.gather(chat.post(invoke), chat.post(dict(invoke, id=invoke["id"] + "-again")))
    assert (first.status, second.status) == (200, 200)
    assert files_of(chat).upload_count == 1
    answers = texts_in(chat.connector.activities()[before:])
    assert "already answered" in answers and "Sorry, something went wrong" not in answers


async def test_one_row_with_a_control_character_is_rejected_alone(chat: ChatDriver) -> None:
    data = b"MAC id,Location\n00:1A:2B:3C:4D:5E,Lobby\n00:1A:2B:3C:4D:5F,Kit\x07chen\n00:1A:2B:3C:4D:60,Hall\n"
    card = summary(await chat.send(emulator_upload(chat, "devices.csv", data)))
    assert counts(card) == (2, 0, 1)
    assert '"text": "3"' in json.dumps(card) and "00:1A:2B:3C:4D:5F" in json.dumps(card)  # its line and MAC
