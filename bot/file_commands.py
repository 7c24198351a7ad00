"""Typed commands and card buttons for files: `template`, `upload` and `export`.

Each parses its input and hands it to a flow in `bot.files.flows`; the upload itself is
not a command (any message carrying a file is one, see `bot.files.upload`).
"""
from __future__ import annotations

from bot.chat import ChatTurn
from bot.commands import REGISTRY, ArgumentParseError, ParsedCommand, expect_args
from bot.files import flows
from bot.runtime import Runtime
from bot.submissions import SUBMISSIONS, Submission
from cards import actions as a

EXPORT_WORDS = "|".join(a.EXPORT_TABS)


@REGISTRY.command("template", summary="Get the CSV template for uploading MAC IDs.", usage="template")
async def template_command(turn: ChatTurn, parsed: ParsedCommand, runtime: Runtime) -> None:
    expect_args(parsed, 0, 0)
    await flows.send_template(turn, runtime)


@REGISTRY.command("upload", summary="How to add many devices at once: send a CSV file of MAC IDs.",
                  usage="upload (then send the file as an attachment)")
async def upload_command(turn: ChatTurn, parsed: ParsedCommand, runtime: Runtime) -> None:
    await flows.show_upload_help(turn, runtime)


@REGISTRY.command("export", summary="Get the technician file: MAC IDs, locations and verification codes.",
                  usage=f"export [{EXPORT_WORDS}]")
async def export_command(turn: ChatTurn, parsed: ParsedCommand, runtime: Runtime) -> None:
    args = [word.lower() for word in expect_args(parsed, 0, 1)]
    tab = args[0] if args else a.TAB_WAITING
    if tab not in a.EXPORT_TABS:
        raise ArgumentParseError(f"`{parsed.args[0][:20]}` is not something I export; use one of "
                                 f"{EXPORT_WORDS.replace('|', ', ')}.", parsed.command)
    await flows.send_export(turn, runtime, tab)


@SUBMISSIONS.action(a.TEMPLATE)
async def _template(turn: ChatTurn, submission: Submission, runtime: Runtime) -> None:
    await flows.send_template(turn, runtime)


@SUBMISSIONS.action(a.SHOW_UPLOAD)
async def _show_upload(turn: ChatTurn, submission: Submission, runtime: Runtime) -> None:
    await flows.show_upload_help(turn, runtime)


@SUBMISSIONS.action(a.EXPORT)
async def _export(turn: ChatTurn, submission: Submission, runtime: Runtime) -> None:
    tab = submission.choice("tab", a.EXPORT_TABS) if "tab" in submission.data else a.TAB_WAITING
    await flows.send_export(turn, runtime, tab)
