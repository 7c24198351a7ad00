"""Handing a file to the admin, the way the channel allows.

In a Teams personal chat a bot can't attach a file directly: it sends a FileConsentCard,
the user accepts, Teams invokes `fileConsent/invoke` with an `uploadUrl` in the user's
OneDrive, the bot PUTs the bytes there and then sends a file info card. Everywhere else
(Emulator, Web Chat, Teams channels and group chats, where FileConsentCard isn't
supported) the bot sends a card linking to `GET /downloads/{token}`. Both paths start the
same way: the file goes into the file stash for the asking tenant, and the consent
card's context carries only that link's token.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import cards
from bot.chat.turn import ChatTurn, ConsentAnswer
from bot.files.downloads import download_url
from bot.files.errors import FileRefused
from bot.files.fetch import HostPolicy, put_file
from provisioning.clock import Clock
from storage.files import FileExpired, FileLink, FileStash, FileTaken, FileUnknown, StoredFile

log = logging.getLogger(__name__)

CONTEXT_KEY: Final = "download"


@dataclass(frozen=True)
class FileOffer:
    name: str  # the file name the admin gets, e.g. Template_Provisioning.csv
    content: bytes
    title: str  # the download card's heading
    description: str  # the consent card's one line about the file


class FileDesk:
    """Files for admins: offered (Teams personal chat) or linked (everywhere else)."""

    def __init__(self, downloads: FileStash, public_url: str, download_hosts: Sequence[str], clock: Clock) -> None:
        self._downloads = downloads
        self._public_url = public_url
        self._download_hosts = tuple(download_hosts)
        self._clock = clock

    async def link(self, tenant_id: str, name: str, content: bytes) -> str:
        """A download URL for `content`, valid one hour, for this tenant."""
        return download_url(self._public_url, await self._put(tenant_id, name, content))

    async def deliver(self, turn: ChatTurn, offer: FileOffer) -> None:
        link = await self._put(turn.tenant_id, offer.name, offer.content)
        if turn.place.offers_files:
            context = {CONTEXT_KEY: link.token}
            await turn.offer_file(offer.name, len(offer.content), offer.description, context)
            return
        url = download_url(self._public_url, link)
        await turn.show(cards.download_card(offer.title, offer.name, url, link.expires_at, self._clock.now()))

    async def accepted(self, turn: ChatTurn, answer: ConsentAnswer) -> None:
        """The admin accepted a FileConsentCard: upload the file to Teams, then show it.

        The offer is taken before the first await: of two accepts of one offer (a double
        click, a replay), exactly one uploads and the other is told it was handled."""
        stored = await self._take_offer(turn, answer.context)
        if stored is None:
            return
        if not isinstance(answer.upload_url, str) or not answer.upload_url:
            await turn.say("Teams sent no place to upload the file to, so I couldn't send it. Ask for it again.")
            return
        policy = HostPolicy.for_activity(turn.place.service_url, self._download_hosts)
        try:
            await put_file(answer.upload_url, policy, stored.content)
        except FileRefused as refused:
            log.warning("file consent upload of %s for tenant %s failed", stored.name, turn.tenant_id)
            await turn.say(refused.message)
            return
        log.info("file %s uploaded to Teams for tenant %s", stored.name, turn.tenant_id)
        await turn.show_uploaded_file(answer, stored.name)

    async def declined(self, turn: ChatTurn, answer: ConsentAnswer) -> None:
        context = answer.context if isinstance(answer.context, dict) else {}
        token = context.get(CONTEXT_KEY)
        name = "the file"
        if isinstance(token, str):
            with contextlib.suppress(FileUnknown, FileExpired, FileTaken):  # nothing to name: the plain answer
                name = f"**{(await self._downloads.take(token, self._clock.now(), turn.tenant_id)).name}**"
        await turn.say(f"OK, I didn't send {name}. Ask again whenever you want it (`export` or `template`).")

    async def _put(self, tenant_id: str, name: str, content: bytes) -> FileLink:
        return await self._downloads.put(tenant_id, name, content, self._clock.now())

    async def _take_offer(self, turn: ChatTurn, context: Any) -> StoredFile | None:
        """The offered file, taken (no longer offered); None, having said why, if it can't be."""
        token = context.get(CONTEXT_KEY) if isinstance(context, dict) else None
        try:
            if not isinstance(token, str):
                raise FileUnknown()
            return await self._downloads.take(token, self._clock.now(), turn.tenant_id)
        except FileTaken:
            await turn.say("That file offer was already answered, so nothing more was sent. "
                           "Ask again if you need the file once more (`export` or `template`).")
        except FileExpired:
            await turn.say("That file offer has expired (files wait one hour). Ask for it again: "
                           "type `export` or `template`.")
        except FileUnknown:
            await turn.say("I don't have that file any more (or it was never offered in this tenant). "
                           "Ask for it again: type `export` or `template`.")
        return None
