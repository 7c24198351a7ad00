"""Rules every card keeps: schema 1.5, submit data shape, labelled inputs, size, no markdown
from outside text. Checked over every card and variant, including the largest."""
from __future__ import annotations

import json
import re

import pytest

import cards
from cards._elements import MAX_ACTIONS_PER_SET, MAX_CARD_BYTES
from cards.actions import ALL_ACTIONS
from tests.cards.samples import CARD_ID, NOW, device, every_card
from tests.cards.walk import elements, of_type, submits, texts
from tests.cards.worst_case import CARD_ID as WORST_CARD_ID
from tests.cards.worst_case import worst_cards

SAMPLES = every_card()
WORST = worst_cards()
ALL = {**SAMPLES, **{f"worst_{k}": v for k, v in WORST.items()}}
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


@pytest.mark.parametrize("name", sorted(ALL))
def test_card_envelope(name: str) -> None:
    card = ALL[name]
    assert card["type"] == "AdaptiveCard"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["version"] == "1.5"


@pytest.mark.parametrize("name", sorted(ALL))
def test_only_submit_and_open_url_actions(name: str) -> None:
    kinds = {e["type"] for e in elements(ALL[name]) if e["type"].startswith("Action.")}
    assert kinds <= {"Action.Submit", "Action.OpenUrl"}


@pytest.mark.parametrize("name", sorted(ALL))
def test_submit_data_names_action_and_card(name: str) -> None:
    card_id = WORST_CARD_ID if name.startswith("worst_") else CARD_ID
    for action in submits(ALL[name]):
        data = action["data"]
        assert data["action"] in ALL_ACTIONS
        assert data["card_id"] == card_id
        assert all(SNAKE.match(key) for key in data), data


@pytest.mark.parametrize("name", sorted(ALL))
def test_inputs_are_labelled_and_required_ones_explain_errors(name: str) -> None:
    for field in of_type(ALL[name], "Input.Text"):
        assert field["label"]
        if field.get("isRequired"):
            assert field["errorMessage"]


@pytest.mark.parametrize("name", sorted(ALL))
def test_text_blocks_wrap_and_action_lists_fit_teams(name: str) -> None:
    card = ALL[name]
    assert all(block["wrap"] for block in of_type(card, "TextBlock"))
    assert len(card.get("actions", [])) <= MAX_ACTIONS_PER_SET
    assert all(0 < len(s["actions"]) <= MAX_ACTIONS_PER_SET for s in of_type(card, "ActionSet"))


@pytest.mark.parametrize("name", sorted(ALL))
def test_card_fits_the_size_budget(name: str) -> None:
    card = ALL[name]
    # Both ways the bot may serialize: json with ensure_ascii (connector) and raw UTF-8.
    assert len(json.dumps(card).encode()) < MAX_CARD_BYTES
    assert len(json.dumps(card, ensure_ascii=False).encode()) < MAX_CARD_BYTES


def test_worst_case_pages_are_full() -> None:
    # The size test above means something only if the worst pages really hold full pages.
    (table,) = of_type(WORST["table_all_signed_in"], "Table")
    assert len(table["rows"]) == cards.DEVICE_ROWS_PER_PAGE + 1
    (codes,) = of_type(WORST["codes"], "Table")
    assert len(codes["rows"]) == cards.CODE_ROWS_PER_PAGE + 1
    (report,) = of_type(WORST["import_summary"], "Table")
    assert len(report["rows"]) == cards.IMPORT_ROWS_SHOWN + 1


def test_outside_text_is_never_read_as_markdown() -> None:
    link = "[Click](https://evil.example)"
    sneaky = device(location=link, model=link, manufacturer=link)
    built = [
        cards.device_table_card("all", [sneaky], 1, 1, {}, NOW, CARD_ID),
        cards.device_status_card(sneaky, NOW, CARD_ID),
        cards.confirm_remove_card(sneaky, CARD_ID),
        cards.device_added_card(sneaky, CARD_ID),
        cards.import_summary_card(0, 0, 1, [cards.RejectedRow(2, link, link)], None, CARD_ID),
        cards.error_card("Can't add that device", link),
        cards.resolved_card("Removed", link),
    ]
    for card in built:
        assert link[:12] in texts(card)
        assert not any(link[:12] in b["text"] for b in of_type(card, "TextBlock")), card


@pytest.mark.parametrize("name", sorted(ALL))
def test_no_text_block_holds_what_markdown_hosts_read_as_html(name: str) -> None:
    # Teams and Web Chat read `<MAC>` in a TextBlock as an HTML tag and show nothing for it.
    assert [b["text"] for b in of_type(ALL[name], "TextBlock") if re.search(r"<|^\s*>", b["text"], re.M)] == []


def test_placeholders_in_the_bots_words_stay_visible() -> None:
    form = SAMPLES["add_form"]
    assert "add <MAC> [location]" in texts(form)
    (hint,) = [e for e in of_type(form, "RichTextBlock") if "add <MAC> [location]" in texts(e)]
    bold = [r["text"] for r in hint["inlines"] if r.get("weight") == "Bolder"]
    italic = [r["text"] for r in hint["inlines"] if r.get("italic")]
    assert (bold, italic) == (["add <MAC> [location]"], ["Waiting on activation"])
    assert all(r.get("isSubtle") for r in hint["inlines"])  # the block's style is on every run
    assert "code <MAC>" in texts(SAMPLES["codes_empty"])
