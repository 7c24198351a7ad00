"""The activity handler: turns each incoming activity into a `ChatTurn` for the dispatcher.

A message (typed text, a card submit, attached files), Teams' Action.Execute invoke, a
file consent answer and the bot being added to a conversation are all handed to the
channel-neutral `Dispatcher`; everything Bot Framework-shaped stays here. Anything that
escapes a turn becomes an apology with an error id (`turn_error_handler`).
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import ChannelAccount
from botbuilder.schema.teams import FileConsentCardResponse

from bot.botframework.attachments import incoming_files
from bot.botframework.identity import command_text, speaker_of
from bot.botframework.turn import BotFrameworkTurn
from bot.chat.dispatch import Dispatcher
from bot.chat.turn import ConsentAnswer, Speaker

log = logging.getLogger(__name__)

IsAdmin = Callable[[Speaker], bool]


class ChannelBot(TeamsActivityHandler):
    def __init__(self, dispatcher: Dispatcher, is_admin: IsAdmin) -> None:
        self._dispatcher = dispatcher
        self._is_admin = is_admin

    def _turn(self, context: TurnContext) -> BotFrameworkTurn:
        speaker = speaker_of(context.activity)
        return BotFrameworkTurn(context, speaker, is_admin=self._is_admin(speaker))

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        await self._dispatcher.message(self._turn(turn_context), command_text(activity), activity.value,
                                       incoming_files(activity))

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        if turn_context.activity.name == "adaptiveCard/action":
            return await self._universal_action(turn_context)
        try:
            return await super().on_invoke_activity(turn_context)
        except (AttributeError, KeyError, TypeError, ValueError) as malformed:
            # botbuilder reads invoke values without checking their shape: a malformed one is the
            # sender's mistake, answered 400, not a failed turn with a traceback.
            name = turn_context.activity.name
            shown = name[:60] if isinstance(name, str) else "?"
            log.warning("malformed %s invoke: %s", shown, type(malformed).__name__)
            return InvokeResponse(status=400, body={"error": "The invoke's value is not what its name requires."})

    async def on_teams_file_consent_accept(self, turn_context: TurnContext, response: FileConsentCardResponse) -> None:
        await self._dispatcher.consent(self._turn(turn_context), _consent_answer(response, accepted=True))

    async def on_teams_file_consent_decline(self, turn_context: TurnContext, response: FileConsentCardResponse) -> None:
        await self._dispatcher.consent(self._turn(turn_context), _consent_answer(response, accepted=False))

    async def _universal_action(self, turn_context: TurnContext) -> InvokeResponse:
        """Teams' Action.Execute: run it as the same submission an Action.Submit sends.

        Answered with a plain dict body: botbuilder's own path re-serializes the
        response model and cannot carry the string `value` a message response needs.
        """
        value = turn_context.activity.value
        action = value.get("action") if isinstance(value, dict) else None
        data = action.get("data") if isinstance(action, dict) else None
        if not isinstance(data, dict) or "action" not in data:
            return _invoke_message("That button sends nothing I can act on. Type `help` for the current cards.")
        await self._dispatcher.submit(self._turn(turn_context), data)
        return _invoke_message("Done.")

    async def on_teams_members_added_dispatch(self, members_added: list[ChannelAccount], team_info: Any,
                                              turn_context: TurnContext) -> None:
        # The welcome needs only the ids: skip botbuilder's member look-up (an HTTP call per member).
        await self.on_members_added_activity(members_added, turn_context)

    async def on_members_added_activity(self, members_added: list[ChannelAccount], turn_context: TurnContext) -> None:
        """Welcome once: when the bot itself is installed (Teams adds only the bot), or when a
        user joins a one-to-one chat (the Emulator adds both). Not for every new team member."""
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else None
        added = [member.id for member in members_added or []]
        turn = self._turn(turn_context)
        if bot_id in added or (turn.is_private and any(member != bot_id for member in added)):
            await self._dispatcher.installed(turn)


def _consent_answer(response: FileConsentCardResponse, *, accepted: bool) -> ConsentAnswer:
    info = response.upload_info
    return ConsentAnswer(
        accepted=accepted,
        context=response.context,
        upload_url=info.upload_url if info is not None and isinstance(info.upload_url, str) else None,
        name=info.name if info is not None else None,
        content_url=info.content_url if info is not None else None,
        unique_id=info.unique_id if info is not None else None,
        file_type=info.file_type if info is not None else None,
    )


def _invoke_message(text: str) -> InvokeResponse:
    return InvokeResponse(status=200, body={"statusCode": 200, "type": "application/vnd.microsoft.activity.message",
                                            "value": text})


async def turn_error_handler(context: TurnContext, error: Exception) -> None:
    """Anything unexpected: log the traceback under an id, tell the user that id."""
    error_id = uuid.uuid4().hex[:12]
    log.error("turn failed, error id %s", error_id, exc_info=error)
    try:
        await context.send_activity(
            f"Sorry, something went wrong on my side (error id {error_id}). Please try again; "
            "if it keeps happening, give this id to the bot's operator."
        )
    except Exception:
        log.exception("could not send the apology for error id %s", error_id)
