"""Cards that are not about one device: welcome, help, errors, and resolved forms."""
from __future__ import annotations

from collections.abc import Sequence

from . import actions as a
from ._elements import Element, button_rows, card, error_text, heading, plain, run, submit, text
from .views import CommandHelp, HelpGroup

# The main buttons, each shown when the asker may run the command it stands for.
_MAIN_BUTTONS: tuple[tuple[str, str, str], ...] = (
    ("add", "Add device", a.SHOW_ADD_FORM),
    ("list", "List devices", a.LIST_DEVICES),
    ("codes", "Codes", a.SHOW_CODES),
    ("upload", "Upload", a.SHOW_UPLOAD),
    ("template", "Template", a.TEMPLATE),
    ("firmware", "Firmware", a.SHOW_FIRMWARE),
)
_INTRO = (
    "I provision Teams Android devices remotely: add their MAC IDs, hand the technician a "
    "verification code per device, and sign each device in once it is activated."
)


def main_buttons(card_id: str, command_names: set[str] | None = None) -> list[Element]:
    """The main-action buttons in rows; all of them, or those whose command is named."""
    chosen = [submit(title, action, card_id) for name, title, action in _MAIN_BUTTONS
              if command_names is None or name in command_names]
    return button_rows(chosen)


def welcome_card(card_id: str, is_admin: bool) -> Element:
    """Sent when the bot joins a conversation."""
    if is_admin:
        body: list[Element] = [
            heading("Welcome to provisioning-bot"),
            text(_INTRO),
            text("Start by adding a device, or upload a file of MAC IDs made from the template. "
                 "Type **help** for every command."),
            *main_buttons(card_id),
        ]
    else:
        body = [
            heading("Welcome to provisioning-bot"),
            text(_INTRO),
            text("Only the bot's admins can provision devices. Ask whoever runs this bot to "
                 "add you to its admins, then type **help**.", color="Warning"),
        ]
    return card(body, [submit("All commands", a.SHOW_HELP, card_id)])


def help_card(groups: Sequence[HelpGroup], card_id: str) -> Element:
    """The commands the asker may run, grouped by task, with usage, and buttons for the
    main actions. Which commands need an admin is said once, not on every line."""
    commands = [c for group in groups for c in group.commands]
    body: list[Element] = [heading("Commands"),
                           text("Type a command, or use the buttons. MAC IDs may be written "
                                "AA-BB-CC-DD-EE-FF, AA:BB:CC:DD:EE:FF, AABB.CCDD.EEFF or "
                                "AABBCCDDEEFF.", subtle=True)]
    note = _admins_note(commands)
    if note:
        body.append(text(note, subtle=True))
    for group in groups:
        body.append(text(group.title, weight="Bolder", size="Medium", spacing="Large"))
        for command in group.commands:
            body.append(plain(run(command.usage, monospace=True, weight="Bolder"), spacing="Medium"))
            body.append(plain(command.summary))
    body.append(text("Type help and a command's name (for example: help add) for its details.", subtle=True,
                     spacing="Medium"))
    body.extend(main_buttons(card_id, {c.name for c in commands}))
    return card(body)


def _admins_note(commands: Sequence[CommandHelp]) -> str | None:
    """One line saying which of the listed commands anyone may run, when the rest need an admin."""
    if not any(c.admin_only for c in commands):
        return None
    open_to_all = [c.name for c in commands if not c.admin_only]
    if not open_to_all:
        return "Every command here is for provisioning admins."
    names = open_to_all[0] if len(open_to_all) == 1 else ", ".join(open_to_all[:-1]) + " and " + open_to_all[-1]
    return f"Every command here except {names} is for provisioning admins."


def command_help_card(command: CommandHelp, card_id: str) -> Element:
    """`help <command>`: one command's summary and usage."""
    body: list[Element] = [
        heading(f"help {command.name}"),
        plain(_summary(command)),
        text("Usage", weight="Bolder", spacing="Medium"),
        plain(run(command.usage, monospace=True)),
        *main_buttons(card_id, {command.name}),
    ]
    return card(body, [submit("All commands", a.SHOW_HELP, card_id)])


def error_card(title: str, message: str, usage: str | None = None) -> Element:
    """A usage error: what went wrong and, when useful, the one usage line."""
    body: list[Element | None] = [heading(title), error_text(message)]
    if usage:
        body.append(plain(run("Usage: "), run(usage, monospace=True)))
    return card(body)


def resolved_card(title: str, message: str) -> Element:
    """Replaces a card that was submitted, confirmed, cancelled or is stale: no buttons left,
    so it cannot be submitted twice."""
    return card([heading(title), plain(message)])


def _summary(command: CommandHelp) -> str:
    return command.summary + (" (admins only)" if command.admin_only else "")


def progress_card(title: str, detail: str) -> Element:
    """A long operation under way (`upload`, `code all`): updated in place every few
    seconds, then replaced by the operation's own answer. `title` and `detail` are the
    bot's own words (counts, a file name made safe by the caller)."""
    return card([heading(title), text(detail, subtle=True)])
