"""Typed commands for the admin's inventory: add, list, code, codes, status, remove, firmware.

Each command parses its arguments into plain values and hands them to a flow in
`inventory.py`; usage errors raise `ArgumentParseError` so the handler answers with the
reason and the usage line.
"""
from __future__ import annotations

import cards
from bot import inventory
from bot.chat import ChatTurn
from bot.commands import REGISTRY, ArgumentParseError, ParsedCommand, expect_args
from bot.markdown import literal
from bot.runtime import Runtime
from cards.actions import TABS

TAB_WORDS = "|".join(TABS)


@REGISTRY.command("add", summary="Add a device by MAC ID, with where it is installed.",
                  usage="add <MAC> [location ...]")
async def add_command(turn: ChatTurn, parsed: ParsedCommand, runtime: Runtime) -> None:
    mac_text, _, location = parsed.raw_args.partition(" ")
    mac_text = mac_text.strip('"')
    if not mac_text:
        await inventory.show_add_form(turn, runtime)
        return
    device = await inventory.add_device(turn, runtime, mac_text, location.strip().strip('"'))
    await inventory.report_added(turn, device)


@REGISTRY.command("list", summary="List devices by tab: waiting, signin, signedin or all.",
                  usage=f"list [{TAB_WORDS}] [page N]")
async def list_command(turn: ChatTurn, parsed: ParsedCommand, runtime: Runtime) -> None:
    args = [a.lower() for a in expect_args(parsed, 0, 3)]
    tab = None
    if args and args[0] != "page":
        tab = args.pop(0)
        if tab not in TABS:
            raise ArgumentParseError(f"`{parsed.args[0][:20]}` is not a tab; use one of {TAB_WORDS.replace('|', ', ')}.",
                                     parsed.command)
    page = _page(args, parsed)
    if tab is None and page != 1:
        tab = "waiting"
    await inventory.show_list(turn, runtime, tab, page)


def _page(args: list[str], parsed: ParsedCommand) -> int:
    if not args:
        return 1
    if len(args) == 2 and args[0] == "page" and args[1].isdigit() and 1 <= int(args[1]) <= 100_000:
        return int(args[1])
    raise ArgumentParseError("Write the page as `page N`, with N a number from 1.", parsed.command)


@REGISTRY.command("code", summary="Issue a device's verification code (valid 24 h), or codes for all.",
                  usage="code <MAC> | code all")
async def code_command(turn: ChatTurn, parsed: ParsedCommand, runtime: Runtime) -> None:
    (target,) = expect_args(parsed, 1, 1)
    if target.lower() == "all":
        await inventory.issue_all_codes(turn, runtime)
    else:
        await inventory.issue_code(turn, runtime, target)


@REGISTRY.command("codes", summary="List the valid verification codes with time left.", usage="codes [page N]")
async def codes_command(turn: ChatTurn, parsed: ParsedCommand, runtime: Runtime) -> None:
    args = [a.lower() for a in expect_args(parsed, 0, 2)]
    await inventory.show_codes(turn, runtime, _page(args, parsed))


@REGISTRY.command("status", summary="Show one device: state, location, firmware, code and history.",
                  usage="status <MAC>")
async def status_command(turn: ChatTurn, parsed: ParsedCommand, runtime: Runtime) -> None:
    (mac_text,) = expect_args(parsed, 1, 1)
    await inventory.show_status(turn, runtime, mac_text)


@REGISTRY.command("remove", summary="Remove a device (asks for confirmation).", usage="remove <MAC>")
async def remove_command(turn: ChatTurn, parsed: ParsedCommand, runtime: Runtime) -> None:
    (mac_text,) = expect_args(parsed, 1, 1)
    await inventory.ask_remove(turn, runtime, mac_text)


@REGISTRY.command("firmware", summary="Show the supported devices, or check a model's firmware.",
                  usage="firmware [<model> <version>]")
async def firmware_command(turn: ChatTurn, parsed: ParsedCommand, runtime: Runtime) -> None:
    catalog = runtime.catalog
    if not parsed.args:
        await turn.show(cards.firmware_catalog_card(catalog.entries))
        return
    if len(parsed.args) < 2:
        raise ArgumentParseError("Give both the model and the firmware version.", parsed.command)
    *model_words, version = parsed.args
    verdict = catalog.check(" ".join(model_words), version)
    await turn.show(cards.firmware_check_card(verdict))


@REGISTRY.command("tenant", summary="Show or set the tenant name devices show after provisioning.",
                  usage="tenant [name ...]")
async def tenant_command(turn: ChatTurn, parsed: ParsedCommand, runtime: Runtime) -> None:
    service = runtime.service
    name = parsed.raw_args.strip().strip('"').strip()
    if name:
        await service.set_tenant_name(turn.tenant_id, turn.actor, name)
        await turn.say(f"Devices provisioned from now on show **{literal(name)}** on their sign-in page.")
        return
    await turn.say(f"Devices show **{literal(service.tenant_name(turn.tenant_id) or '')}** on their sign-in page. "
                   "Change it with `tenant <name>`.")
