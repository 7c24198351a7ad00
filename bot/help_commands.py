"""`help` and `help <command>`, generated from the command registry."""
from __future__ import annotations

import cards
from bot.chat import ChatTurn, new_card_id
from bot.commands import REGISTRY, ArgumentParseError, Command, ParsedCommand, expect_args
from bot.runtime import Runtime


def command_help(command: Command) -> cards.CommandHelp:
    return cards.CommandHelp(command.name, command.summary, command.usage, command.admin_only)


@REGISTRY.command("help", summary="List the commands, or show how to use one.", usage="help [command]", admin_only=False)
async def help_command(turn: ChatTurn, parsed: ParsedCommand, runtime: Runtime) -> None:
    args = expect_args(parsed, 0, 1)
    if not args:
        visible = [command_help(c) for c in REGISTRY.visible_to(turn.is_admin)]
        await turn.show(cards.help_card(visible, new_card_id()))
        return
    command = REGISTRY.get(args[0])
    if command is None or (command.admin_only and not turn.is_admin):
        suggestions = REGISTRY.suggestions(args[0], turn.is_admin)
        hint = f" Did you mean {' or '.join(f'`{s}`' for s in suggestions)}?" if suggestions else ""
        raise ArgumentParseError(f"There is no command `{args[0][:40]}`.{hint}", parsed.command)
    await turn.show(cards.command_help_card(command_help(command), new_card_id()))
