"""Who is talking, where, and for which tenant, read from an incoming activity.

Teams puts the tenant in `channelData.tenant.id` (and `conversation.tenantId`) and the
user's Entra ID object id in `from.aadObjectId`. The Emulator sends neither: its
conversations belong to the `LOCAL_TENANT`.
"""
from __future__ import annotations

import html
import re

from botbuilder.schema import Activity

from bot.chat.turn import Place, Speaker

LOCAL_TENANT = "local"
# Linear-time patterns: a mention's text holds no markup, so an unclosed `<at` can't make
# the search rescan the rest of the message (a lazy `.*?` did, quadratically).
_MENTION = re.compile(r"<at\b[^<>]*>[^<]*</at>", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]*>")
MAX_COMMAND_CHARS = 4_000  # far more than any command needs; bounds the work per message


def speaker_of(activity: Activity) -> Speaker:
    sender = activity.from_property
    aad = getattr(sender, "aad_object_id", None) if sender else None
    channel_user_id = (sender.id if sender else None) or "unknown"
    return Speaker(
        tenant_id=tenant_of(activity),
        user_id=aad or channel_user_id,
        channel_user_id=channel_user_id,
        name=((sender.name if sender else None) or channel_user_id)[:128],
        channel_id=activity.channel_id or "unknown",
    )


def place_of(activity: Activity) -> Place:
    conversation = activity.conversation
    kind = getattr(conversation, "conversation_type", None) if conversation else None
    # A group conversation (even one without a type) is never private: codes stay out of it.
    private = not getattr(conversation, "is_group", False) and kind in (None, "", "personal")
    return Place(
        conversation_id=conversation.id if conversation else "",
        is_private=private,
        offers_files=activity.channel_id == "msteams" and kind == "personal",  # FileConsentCard: 1:1 only
        service_url=activity.service_url,
        reply_to_id=activity.reply_to_id,
    )


def tenant_of(activity: Activity) -> str:
    data = activity.channel_data
    if isinstance(data, dict):
        tenant = data.get("tenant")
        if isinstance(tenant, dict) and isinstance(tenant.get("id"), str) and tenant["id"].strip():
            return tenant["id"].strip()
    conversation = activity.conversation
    tenant_id = getattr(conversation, "tenant_id", None) if conversation else None
    if isinstance(tenant_id, str) and tenant_id.strip():
        return tenant_id.strip()
    # Teams always names the tenant; a Teams activity without one must not fall into the
    # local tenant (the empty id is refused by the store, and the sender is told).
    return "" if activity.channel_id == "msteams" else LOCAL_TENANT


def command_text(activity: Activity) -> str:
    """The typed text with the bot's @mention (and any markup Teams adds) removed."""
    # Not TurnContext.remove_recipient_mention: it raises on a malformed mention entity
    # and feeds the mention text to re.sub as a pattern.
    text = _MENTION.sub(" ", (activity.text or "")[:MAX_COMMAND_CHARS])
    text = html.unescape(_TAG.sub(" ", text)).replace("\u00a0", " ")
    return " ".join(text.split())
