"""Issue 14 item 7 over HTTP: when the disk refuses a write, chat says that nothing was saved
and why, nothing is half-done, and the same commands work once the disk recovers."""
from __future__ import annotations

import errno
from typing import Any

import pytest

from storage import atomic, journal
from tests.bot.chat import ChatDriver, cards_in, submit_data, texts_in

KEPT = "00-1A-2B-3C-4D-01"
TYPED = "00-1A-2B-3C-4D-02"
FORM = "00-1A-2B-3C-4D-03"
UPLOADED = ("00-1A-2B-3C-4D-04", "00-1A-2B-3C-4D-05")
NOT_SAVED = "Nothing was saved: the store could not be written ({reason}). Try again later; if it keeps " \
            "happening, tell the bot's operator."


def failing(number: int) -> Any:
    def write(*args: object, **kwargs: object) -> None:
        raise OSError(number, "the OS error text")
    return write


def upload(chat: ChatDriver) -> dict[str, Any]:
    chat.connector.files["devices.csv"] = ("MAC id,Location\n" + "".join(f"{m},Rack\n" for m in UPLOADED)).encode()
    body = chat.activity(attachments=[{"contentType": "text/csv", "name": "devices.csv",
                                       "contentUrl": f"{chat.service_url}v3/attachments/devices.csv/views/original"}])
    body.pop("text", None)
    return body


def state(chat: ChatDriver) -> dict[str, tuple[str, bool]]:
    return {d.mac: (d.location, d.code is not None) for d in chat.services.service.list_devices("local")}


@pytest.mark.parametrize(("number", "reason"), [
    (errno.ENOSPC, "the disk is full"),
    (errno.EROFS, "the disk is read-only"),
    (errno.EACCES, "the bot may not write to its data directory"),
    (errno.EDQUOT, "the disk quota is used up"),
    (errno.EIO, "a write to the disk failed"),
])
async def test_a_write_the_disk_refuses_saves_nothing_says_why_and_works_once_it_recovers(
        chat: ChatDriver, monkeypatch: pytest.MonkeyPatch, number: int, reason: str) -> None:
    await chat.say(f"add {KEPT} Lobby")
    form = cards_in(await chat.say("add"))[0]
    submitted = submit_data(form, "add_device") | {"mac": FORM, "location": "Hall"}
    before = state(chat)
    list_before = texts_in(await chat.say("list all"))

    monkeypatch.setattr(journal, "append", failing(number))
    monkeypatch.setattr(atomic, "atomic_write", failing(number))
    for answer in (await chat.say(f"add {TYPED} Office"), await chat.submit(submitted),
                   await chat.send(upload(chat)), await chat.say("code all")):
        text = texts_in(answer)
        assert NOT_SAVED.format(reason=reason) in text
        assert "/" not in text.split("Nothing was saved")[1] and "OS error" not in text and "error id" not in text
    monkeypatch.undo()
    assert state(chat) == before
    assert texts_in(await chat.say("list all")) == list_before

    assert TYPED in texts_in(await chat.say(f"add {TYPED} Office"))
    assert FORM in texts_in(await chat.submit(submitted)), "the form whose add failed can be sent again"
    await chat.send(upload(chat))
    await chat.say("code all")
    assert state(chat) == {KEPT: ("Lobby", True), TYPED: ("Office", True), FORM: ("Hall", True),
                           UPLOADED[0]: ("Rack", True), UPLOADED[1]: ("Rack", True)}
