"""Help: `help`, `help <command>`, the *All commands* button and the welcome card, all
generated from the menu of declared commands."""
from __future__ import annotations

import cards
from bot.chat.interactions import Command, CommandCall, Feature, Menu, UsageError, card_action, command
from bot.chat.markdown import code
from bot.chat.submission import Submission
from bot.chat.turn import ChatTurn, new_card_id
from cards import actions as a


class Help(Feature):
    title = "Help"

    def __init__(self, menu: Menu) -> None:
        self._menu = menu
        # The menu never changes while the bot runs: what each kind of asker sees, built once.
        self._groups = {is_admin: [cards.HelpGroup(g.title, tuple(_help_of(c) for c in g.commands))
                                   for g in menu.visible_to(is_admin)] for is_admin in (False, True)}

    @command("help", summary="List the commands, or show how to use one.", usage="help [command]",
             menu_rank=1, admin_only=False)
    async def help(self, turn: ChatTurn, call: CommandCall) -> None:
        args = call.expect(0, 1)
        if not args:
            await self.show_all(turn)
            return
        found = self._menu.get(args[0])
        if found is None or (found.rules.admin_only and not turn.is_admin):
            suggestions = self._menu.suggestions(args[0], turn.is_admin)
            hint = f" Did you mean {' or '.join(f'`{s}`' for s in suggestions)}?" if suggestions else ""
            raise UsageError(f"There is no command {code(args[0][:40])}.{hint}", call.command)
        await self.show_command(turn, found)

    @card_action(a.SHOW_HELP, admin_only=False)
    async def help_button(self, turn: ChatTurn, submission: Submission) -> None:
        await self.show_all(turn)

    async def show_all(self, turn: ChatTurn) -> None:
        await turn.show(cards.help_card(self._groups[turn.is_admin], new_card_id()))

    async def show_command(self, turn: ChatTurn, command: Command) -> None:
        await turn.show(cards.command_help_card(_help_of(command), new_card_id()))

    async def welcome(self, turn: ChatTurn) -> None:
        await turn.show(cards.welcome_card(new_card_id(), is_admin=turn.is_admin))


def _help_of(command: Command) -> cards.CommandHelp:
    return cards.CommandHelp(command.name, command.summary, command.usage, command.rules.admin_only)
