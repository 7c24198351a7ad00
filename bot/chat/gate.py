"""The gate: the one place that decides whether an interaction may run, and that turns
every refusal into an answer.

Typed commands, card buttons, uploads and file consent answers all pass here. In order:
the conversation must name a tenant the store can keep; an admin-only interaction needs
an admin; one that shows secrets needs a one-to-one chat. While it runs, a refusal the
user can act on (a domain rule, a bad argument, a forged card field, a refused file)
becomes that message, and a change the store could not save (disk full, read-only...)
says that nothing was saved and why; anything else propagates to the turn's error handler (an apology
with an error id). A new interaction gets all of this by being declared.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.chat.interactions import CardAction, Command, Declaration, Refused, UsageError, describe
from bot.chat.markdown import code, literal
from bot.chat.turn import ChatTurn
from provisioning.errors import ProvisioningError
from provisioning.repository import ConcurrentChange
from storage import StoreClosed, StoreError, StoreWriteFailed

log = logging.getLogger(__name__)

TenantCheck = Callable[[str], object]  # raises ValueError for a tenant id the store refuses


class Gate:
    def __init__(self, check_tenant: TenantCheck) -> None:
        self._check_tenant = check_tenant

    def refusal(self, turn: ChatTurn, declared: Declaration) -> str | None:
        """Why `turn` may not run `declared`, or None if it may."""
        try:
            self._check_tenant(turn.tenant_id)
        except ValueError as refused:
            log.warning("refused %s: unusable tenant id (%s)", describe(declared), refused)
            return "This conversation's tenant id isn't one I can keep devices for, so nothing was done."
        speaker = turn.speaker
        if declared.rules.admin_only and not turn.is_admin:
            log.warning("refused %s for %s (%s) in tenant %s: not an admin",
                        describe(declared), speaker.user_id, speaker.name, speaker.tenant_id)
            return (f"You're not authorized to {_what(declared)}: only provisioning admins may. "
                    f"Ask the bot's operator to add your user id {code(speaker.user_id)} to ADMINS.")
        if declared.rules.secret and not turn.is_private:
            return (f"{declared.rules.secret} are secrets, and everyone in this conversation would see them. "
                    "Ask me in a personal chat (open a chat with the bot), where only you do.")
        return None

    async def run(self, turn: ChatTurn, declared: Declaration, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` for `declared` if the gate lets it, answering every refusal."""
        refused_because = self.refusal(turn, declared)
        if refused_because is not None:
            await turn.say(refused_because)
            return
        speaker = turn.speaker
        log.info("%s by %s (%s) in tenant %s", describe(declared), speaker.user_id, speaker.name, speaker.tenant_id)
        try:
            await work()
        except UsageError as error:
            usage = f"\n\nUsage: `{error.command.usage}`" if error.command else ""
            await turn.say(f"{error.message}{usage}")
        except Refused as refused:  # the bot's own markdown; what users typed is already escaped in it
            await turn.say(refused.message)
        except ProvisioningError as refusal:  # plain text from the rules, often quoting what was typed
            await turn.say(literal(refusal.message))
        except ConcurrentChange:  # other instances kept winning the same race: nothing was kept
            log.warning("%s by %s in tenant %s: gave up after repeated concurrent changes",
                        describe(declared), speaker.user_id, speaker.tenant_id)
            await turn.say("Nothing was changed: the same devices were being changed elsewhere at the same "
                           "moment, again and again. Try again in a moment.")
        except StoreError as failure:  # the store rolled the change back: say so, and why
            log.error("%s by %s in tenant %s: nothing saved: %s",
                      describe(declared), speaker.user_id, speaker.tenant_id, failure.message)
            await turn.say(_not_saved(failure))


def _not_saved(failure: StoreError) -> str:
    if isinstance(failure, StoreWriteFailed):
        why = f"the store could not be written ({failure.reason})"
    elif isinstance(failure, StoreClosed):
        why = "the bot is shutting down"
    else:
        why = "the store refused the change"
    return f"Nothing was saved: {why}. Try again later; if it keeps happening, tell the bot's operator."


def _what(declared: Declaration) -> str:
    if isinstance(declared, Command):
        return f"run `{declared.name}`"
    if isinstance(declared, CardAction):
        return "do that"
    return "upload devices" if declared.kind == "upload" else "receive provisioning files"
