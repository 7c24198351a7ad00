"""Building blocks every card shares: the envelope, text, facts, actions, inputs, tables.

Two kinds of text. `text()` is a TextBlock for the bot's own words: Teams renders a
markdown subset in it. `plain()` is a RichTextBlock of TextRuns for anything that came
from outside (locations, device-reported models, file rows, messages quoting input):
TextRuns are never read as markdown, so a location like `[here](https://evil)` shows as
typed instead of becoming a link.

Markdown hosts (Teams, Web Chat) also read `<word>` in a TextBlock as an HTML tag and drop
it: `**add <MAC> [location]**` showed as "add [location]". So `text()` of a value with `<`
(or a line starting with `>`, a quote) becomes a RichTextBlock instead, its `**bold**` and
`*italic*` turned into styled runs.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

from .actions import ALL_ACTIONS

Element = dict[str, Any]
Run = str | Element  # a plain string or a TextRun made by `run()`

SCHEMA_URL: Final = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION: Final = "1.5"
MAX_CARD_BYTES: Final = 25_000  # the team's budget per card (Teams caps a message near 100 KB)
# Teams shows at most six actions in one action list; more are silently dropped.
MAX_ACTIONS_PER_SET: Final = 6

_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
# `<` opens an HTML tag (or autolink) in markdown; `>` does only at a line's start (a quote).
_HTML_LIKE = re.compile(r"<|^\s*>", re.MULTILINE)
_EMPHASIS = re.compile(r"\*\*(.+?)\*\*|\*(.+?)\*")


def card(body: Iterable[Element | None], actions: Sequence[Element] = (), *, wide: bool = False) -> Element:
    """An AdaptiveCard 1.5; None entries in `body` are dropped (optional parts)."""
    result: Element = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA_URL,
        "version": CARD_VERSION,
        "body": [element for element in body if element is not None],
    }
    if actions:
        result["actions"] = _checked_actions(actions)
    if wide:
        # Tables need the room; other hosts ignore the msteams property.
        result["msteams"] = {"width": "Full"}
    return result


def heading(title: str, color: str | None = None) -> Element:
    """The card's title. Only for the bot's own words (see module docstring)."""
    block: Element = {"type": "TextBlock", "text": title, "style": "heading", "size": "Medium",
                      "weight": "Bolder", "wrap": True}
    if color:
        block["color"] = color
    return block


def text(value: str, *, subtle: bool = False, weight: str | None = None, size: str | None = None,
         color: str | None = None, spacing: str | None = None, monospace: bool = False) -> Element:
    """A wrapping TextBlock for the bot's own words and values it made itself (canonical
    MACs, codes, times), which hold no markdown but **bold**, *italic* and line breaks.

    With a `<` in `value` (`code <MAC>`), a RichTextBlock with the same look, which no host
    reads as HTML (see the module docstring)."""
    if _HTML_LIKE.search(value):
        return _rich_text(value, subtle=subtle, weight=weight, size=size, color=color,
                          spacing=spacing, monospace=monospace)
    block: Element = {"type": "TextBlock", "text": value, "wrap": True}
    _style(block, subtle=subtle, weight=weight, size=size, color=color)
    if monospace:
        block["fontType"] = "Monospace"
    if spacing:
        block["spacing"] = spacing
    return block


def run(value: str, *, monospace: bool = False, subtle: bool = False, weight: str | None = None,
        size: str | None = None, color: str | None = None, underline: bool = False) -> Element:
    """A TextRun: text shown exactly as given, never parsed as markdown."""
    element: Element = {"type": "TextRun", "text": value}
    _style(element, subtle=subtle, weight=weight, size=size, color=color)
    if monospace:
        element["fontType"] = "Monospace"
    if underline:
        element["underline"] = True
    return element


def plain(*runs: Run, spacing: str | None = None) -> Element:
    """A RichTextBlock of `runs` (strings become unstyled runs). It always wraps."""
    block: Element = {"type": "RichTextBlock",
                      "inlines": [run(r) if isinstance(r, str) else r for r in runs]}
    if spacing:
        block["spacing"] = spacing
    return block


def error_text(message: str) -> Element:
    """A problem to fix, in the attention colour, shown as given."""
    return plain(run(message, color="Attention", weight="Bolder"))


def facts(pairs: Sequence[tuple[str, Run | Sequence[Run]]]) -> Element:
    """Label/value rows. Not a FactSet: Teams reads FactSet values as markdown."""
    rows = []
    for label, value in pairs:
        runs = [value] if isinstance(value, (str, dict)) else list(value)
        rows.append({
            "type": "ColumnSet",
            "spacing": "Small",
            "columns": [
                {"type": "Column", "width": 2, "items": [text(label, weight="Bolder")]},
                {"type": "Column", "width": 5, "items": [plain(*runs)]},
            ],
        })
    return {"type": "Container", "items": rows}


def submit(title: str, action: str, card_id: str, *, style: str | None = None,
           ignore_inputs: bool = False, **fields: str | int) -> Element:
    """An Action.Submit whose data is `{"action", "card_id", **fields}`.

    `ignore_inputs` is for Cancel-like buttons: the client neither validates nor sends
    the card's inputs, so a half-filled required field cannot block a cancel.
    """
    if action not in ALL_ACTIONS:
        raise ValueError(f"unknown submit action {action!r}; add it to cards/actions.py")
    for key in fields:
        if not _SNAKE.match(key):
            raise ValueError(f"submit field {key!r} is not snake_case")
    element: Element = {"type": "Action.Submit", "title": title,
                        "data": {"action": action, "card_id": card_id, **fields}}
    if style:
        element["style"] = style
    if ignore_inputs:
        element["associatedInputs"] = "none"
    return element


def open_url(title: str, url: str) -> Element:
    return {"type": "Action.OpenUrl", "title": title, "url": url}


def action_set(*actions: Element, spacing: str | None = None) -> Element | None:
    """An ActionSet in the body, or None when there is nothing to offer."""
    if not actions:
        return None
    element: Element = {"type": "ActionSet", "actions": _checked_actions(actions)}
    if spacing:
        element["spacing"] = spacing
    return element


def button_rows(actions: Sequence[Element], per_row: int = 3) -> list[Element]:
    """ActionSets of at most `per_row` buttons, so titles stay readable on a phone."""
    return [{"type": "ActionSet", "actions": list(actions[i : i + per_row])}
            for i in range(0, len(actions), per_row)]


def table(columns: Sequence[tuple[str, int]], rows: Sequence[Sequence[Element]]) -> Element:
    """A 1.5 Table: a header row from `columns` (title, relative width), then `rows` of cells.
    An empty title leaves its header cell empty (a column of buttons).

    The first row is a header by default in every renderer; the property that says so is
    spelled differently by the schema and the JS library, so it is left out.
    """
    header = {"type": "TableRow", "style": "accent",
              "cells": [cell(text(title, weight="Bolder") if title else None) for title, _ in columns]}
    return {
        "type": "Table",
        "gridStyle": "accent",
        "columns": [{"width": width} for _, width in columns],
        "rows": [header] + [{"type": "TableRow", "cells": list(cells)} for cells in rows],
    }


def cell(*items: Element | None, select_action: Element | None = None) -> Element:
    element: Element = {"type": "TableCell", "items": [i for i in items if i is not None]}
    if select_action:
        element["selectAction"] = select_action
    return element


def text_input(input_id: str, label: str, *, value: str = "", placeholder: str | None = None,
               required: bool = False, error_message: str | None = None, regex: str | None = None,
               max_length: int | None = None, style: str | None = None) -> Element:
    """An Input.Text with a visible label. A required input must say what is wrong."""
    if required and not error_message:
        raise ValueError(f"required input {input_id!r} needs an error_message")
    element: Element = {"type": "Input.Text", "id": input_id, "label": label}
    optional = {"value": value, "placeholder": placeholder, "isRequired": required,
                "errorMessage": error_message, "regex": regex, "maxLength": max_length,
                "style": style}
    element.update({k: v for k, v in optional.items() if v})
    return element


def _rich_text(value: str, *, spacing: str | None, **style: Any) -> Element:
    """`value`'s **bold** and *italic* parts as styled TextRuns, the rest as plain ones."""
    runs: list[Run] = []
    at = 0
    for match in _EMPHASIS.finditer(value):
        if match.start() > at:
            runs.append(run(value[at : match.start()], **style))
        if match.group(1) is not None:
            runs.append(run(match.group(1), **{**style, "weight": "Bolder"}))
        else:
            runs.append({**run(match.group(2), **style), "italic": True})
        at = match.end()
    if at < len(value):
        runs.append(run(value[at:], **style))
    return plain(*runs, spacing=spacing)


def _checked_actions(actions: Sequence[Element]) -> list[Element]:
    if len(actions) > MAX_ACTIONS_PER_SET:
        raise ValueError(f"{len(actions)} actions in one list; Teams shows at most {MAX_ACTIONS_PER_SET}")
    return list(actions)


def _style(element: Element, *, subtle: bool, weight: str | None, size: str | None,
           color: str | None) -> None:
    if subtle:
        element["isSubtle"] = True
    if weight:
        element["weight"] = weight
    if size:
        element["size"] = size
    if color:
        element["color"] = color
