"""Handing a file to the admin, the way the channel allows.

In a Teams personal chat a bot can't attach a file directly: it sends a FileConsentCard,
the user accepts, Teams invokes `fileConsent/invoke` with an `uploadUrl` in the user's
OneDrive, the bot PUTs the bytes there and then sends a file info card. Everywhere else
(Emulator, Web Chat, Teams channels and group chats, where FileConsentCard isn't
supported) the bot sends a card linking to `GET /downloads/{token}`. Both paths start the
same way: the file goes into the runtime's DownloadStore for the asking tenant, and the
consent card's context carries only that link's token.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botbuilder.core import MessageFactory
from botbuilder.schema import Attachment
from botbuilder.schema.teams import FileConsentCardResponse

import cards
from bot.chat import ChatTurn
from bot.files.downloads import LinkExpired, LinkUnknown, download_url
from bot.files.errors import FileRefused
from bot.files.fetch import HostPolicy, put_file

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

FILE_CONSENT_CONTENT_TYPE: Final = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO_CONTENT_TYPE: Final = "application/vnd.microsoft.teams.card.file.info"
CONTEXT_KEY: Final = "download"


@dataclass(frozen=True)
class FileOffer:
    name: str  # the file name the admin gets, e.g. Template_Provisioning.csv
    content: bytes
    title: str  # the download card's heading
    description: str  # the consent card's one line about the file


def uses_file_consent(turn: ChatTurn) -> bool:
    """Teams supports FileConsentCard in personal (1:1) chats only."""
    conversation = turn.activity.conversation
    kind = getattr(conversation, "conversation_type", None) if conversation else None
    return turn.activity.channel_id == "msteams" and kind == "personal"


async def deliver_file(turn: ChatTurn, runtime: Runtime, offer: FileOffer) -> None:
    now = runtime.clock.now()
    link = runtime.downloads.put(turn.tenant_id, offer.name, offer.content, now)
    if uses_file_consent(turn):
        context = {CONTEXT_KEY: link.token}
        consent = Attachment(content_type=FILE_CONSENT_CONTENT_TYPE, name=offer.name, content={
            "description": offer.description,
            "sizeInBytes": len(offer.content),
            "acceptContext": context,
            "declineContext": context,
        })
        await turn.context.send_activity(MessageFactory.attachment(consent))
        return
    url = download_url(runtime.settings.public_url, link)
    await turn.show(cards.download_card(offer.title, offer.name, url, link.expires_at, now))


async def consent_accepted(turn: ChatTurn, response: FileConsentCardResponse, runtime: Runtime) -> None:
    """The admin accepted a FileConsentCard: upload the file to Teams, then show it."""
    if not turn.is_admin:
        log.warning("refused a file consent accept from %s in tenant %s: not an admin", turn.speaker.user_id, turn.tenant_id)
        await turn.say("You're not authorized to receive provisioning files: only provisioning admins may.")
        return
    stored = await _offered_file(turn, response.context, runtime)
    if stored is None:
        return
    info = response.upload_info
    if info is None or not isinstance(info.upload_url, str) or not info.upload_url:
        await turn.say("Teams sent no place to upload the file to, so I couldn't send it. Ask for it again.")
        return
    policy = HostPolicy.for_activity(turn.activity.service_url, runtime.settings.download_hosts)
    try:
        await put_file(info.upload_url, policy, stored.content)
    except FileRefused as refused:
        log.warning("file consent upload of %s for tenant %s failed", stored.name, turn.tenant_id)
        await turn.say(refused.message)
        return
    runtime.downloads.take(response.context[CONTEXT_KEY], runtime.clock.now(), turn.tenant_id)  # answered once
    log.info("file %s uploaded to Teams for tenant %s", stored.name, turn.tenant_id)
    file_info = Attachment(content_type=FILE_INFO_CONTENT_TYPE, name=info.name or stored.name,
                           content_url=info.content_url,
                           content={"uniqueId": info.unique_id, "fileType": info.file_type or "csv"})
    await turn.context.send_activity(MessageFactory.attachment(file_info))


async def consent_declined(turn: ChatTurn, response: FileConsentCardResponse, runtime: Runtime) -> None:
    context = response.context if isinstance(response.context, dict) else {}
    token = context.get(CONTEXT_KEY)
    name = "the file"
    if isinstance(token, str):
        try:
            name = f"**{runtime.downloads.take(token, runtime.clock.now(), turn.tenant_id).name}**"
        except (LinkUnknown, LinkExpired):
            pass
    await turn.say(f"OK, I didn't send {name}. Ask again whenever you want it (`export` or `template`).")


async def _offered_file(turn: ChatTurn, context: Any, runtime: Runtime) -> Any:
    token = context.get(CONTEXT_KEY) if isinstance(context, dict) else None
    try:
        if not isinstance(token, str):
            raise LinkUnknown()
        return runtime.downloads.get(token, runtime.clock.now(), turn.tenant_id)
    except LinkExpired:
        await turn.say("That file offer has expired (files wait one hour). Ask for it again: "
                       "type `export` or `template`.")
    except LinkUnknown:
        await turn.say("I don't have that file any more (or it was never offered in this tenant). "
                       "Ask for it again: type `export` or `template`.")
    return None
