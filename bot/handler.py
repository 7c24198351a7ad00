"""The activity handler: routes each incoming activity to a small helper.

Typed text goes to the command registry, a card submission to the submission
dispatcher, a bot added to a conversation gets the welcome card. Errors a user can fix
become plain answers; anything else becomes an apology with an error id.
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

# Each of these declares its commands and card actions; `help` lists them in this order.
import bot.inventory_commands  # noqa: F401  isort: skip
import bot.signin  # noqa: F401  isort: skip
import bot.file_commands  # noqa: F401  isort: skip
import cards
from bot.chat import ChatTurn, new_card_id
from bot.commands import REGISTRY as registry
from bot.commands import ArgumentParseError, HelpRequested, NotAuthorized, UnknownCommand
from bot.files.delivery import consent_accepted, consent_declined
from bot.files.upload import incoming_files, receive_uploads
from bot.help_commands import command_help
from bot.identity import command_text, speaker_of
from bot.submissions import SUBMISSIONS
from bot.runtime import Runtime
from bot.settings import Settings
from provisioning.errors import ProvisioningError
from storage import InvalidTenantId

log = logging.getLogger(__name__)


class ProvisioningBot(TeamsActivityHandler):
    def __init__(self, settings: Settings, runtime: Callable[[], Runtime]) -> None:
        self._settings = settings
        self._runtime = runtime

    def _turn(self, context: TurnContext) -> ChatTurn:
        speaker = speaker_of(context.activity)
        return ChatTurn(context, speaker, self._settings.is_admin(speaker.user_id, speaker.channel_user_id))

    async def on_turn(self, turn_context: TurnContext) -> None:
        try:
            await super().on_turn(turn_context)
        except InvalidTenantId as refused:  # a forged or garbled channelData.tenant.id
            log.warning("refused an activity with an unusable tenant id: %s", refused)
            await turn_context.send_activity("This conversation's tenant id isn't one I can keep devices for, "
                                             "so nothing was done.")

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        turn = self._turn(turn_context)
        value = turn_context.activity.value
        if isinstance(value, dict) and "action" in value:
            await SUBMISSIONS.dispatch(turn, value, self._runtime())
            return
        files = incoming_files(turn_context.activity)
        if files:
            await receive_uploads(turn, files, self._runtime())
            return
        text = command_text(turn_context.activity)
        await self._run_command(turn, text or "help")

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        if turn_context.activity.name == "adaptiveCard/action":
            return await self._universal_action(turn_context)
        try:
            return await super().on_invoke_activity(turn_context)
        except (AttributeError, KeyError, TypeError, ValueError) as malformed:
            # botbuilder reads invoke values without checking their shape: a malformed one is the
            # sender's mistake, answered 400, not a failed turn with a traceback.
            log.warning("malformed %s invoke: %s", str(turn_context.activity.name)[:60], type(malformed).__name__)
            return InvokeResponse(status=400, body={"error": "The invoke's value is not what its name requires."})

    async def on_teams_file_consent_accept(self, turn_context: TurnContext, response: FileConsentCardResponse) -> None:
        await consent_accepted(self._turn(turn_context), response, self._runtime())

    async def on_teams_file_consent_decline(self, turn_context: TurnContext, response: FileConsentCardResponse) -> None:
        await consent_declined(self._turn(turn_context), response, self._runtime())

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
        await SUBMISSIONS.dispatch(self._turn(turn_context), data, self._runtime())
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
            await turn.show(cards.welcome_card(new_card_id(), is_admin=turn.is_admin))

    async def _run_command(self, turn: ChatTurn, text: str) -> None:
        who = turn.speaker
        try:
            parsed = registry.parse(text, turn.is_admin)
            log.info("command %s by %s (%s) in tenant %s", parsed.command.name, who.user_id, who.name, who.tenant_id)
            await parsed.command.handler(turn, parsed, self._runtime())
        except UnknownCommand as unknown:
            await turn.say(_unknown_answer(unknown))
        except NotAuthorized as refused:
            log.warning("refused %s for %s (%s) in tenant %s: not an admin", refused.command.name, who.user_id, who.name, who.tenant_id)
            await turn.say(
                f"You're not authorized to run `{refused.command.name}`: only provisioning admins may. "
                f"Ask the bot's operator to add your user id `{who.user_id}` to ADMINS."
            )
        except HelpRequested as asked:
            await turn.show(cards.command_help_card(command_help(asked.command), new_card_id()))
        except ArgumentParseError as error:
            usage = f"\n\nUsage: `{error.command.usage}`" if error.command else ""
            await turn.say(f"{error.message}{usage}")
        except ProvisioningError as refusal:
            await turn.say(refusal.message)


def _invoke_message(text: str) -> InvokeResponse:
    return InvokeResponse(status=200, body={"statusCode": 200, "type": "application/vnd.microsoft.activity.message",
                                            "value": text})


def _unknown_answer(unknown: UnknownCommand) -> str:
    word = unknown.word[:40]
    if unknown.suggestions:
        options = " or ".join(f"`{name}`" for name in unknown.suggestions)
        return f"I don't know the command `{word}`. Did you mean {options}? Type `help` to see every command."
    return f"I don't know the command `{word}`. Type `help` to see every command."


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
