"""Helpers that look inside built cards: every element, every action, every text."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def elements(node: Any) -> Iterator[dict[str, Any]]:
    """Every dict with a `type` anywhere in `node`, depth first (the node itself included)."""
    if isinstance(node, dict):
        if "type" in node:
            yield node
        for key, value in node.items():
            if key != "data":  # submit data is payload, not card structure
                yield from elements(value)
    elif isinstance(node, list):
        for item in node:
            yield from elements(item)


def of_type(card: dict[str, Any], *types: str) -> list[dict[str, Any]]:
    return [e for e in elements(card) if e["type"] in types]


def submits(card: dict[str, Any]) -> list[dict[str, Any]]:
    return of_type(card, "Action.Submit")


def submit_data(card: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s["data"] for s in submits(card) if s["data"]["action"] == action]


def titles(card: dict[str, Any]) -> list[str]:
    return [a["title"] for a in of_type(card, "Action.Submit", "Action.OpenUrl")]


def texts(card: dict[str, Any]) -> str:
    """All visible text, one piece a line."""
    return "\n".join(e["text"] for e in of_type(card, "TextBlock", "TextRun"))
