"""Every card, in every variant and at its largest, passes the official renderer's checks
(`validate-card.js --target 1.5 --strict`), in one node run."""
from __future__ import annotations

import pytest

from tests.cardcheck import validate_cards
from tests.cards.samples import every_card
from tests.cards.worst_case import worst_cards


def test_every_card_is_valid_for_teams() -> None:
    validate_cards([*every_card().values(), *worst_cards().values()])


def test_the_check_rejects_what_teams_would_not_render() -> None:
    # A typo the renderer ignores; a required input without label or error message.
    bad_cards = [
        {"type": "AdaptiveCard", "version": "1.5",
         "body": [{"type": "Input.Text", "id": "mac", "palceholder": "AA-BB"}]},
        {"type": "AdaptiveCard", "version": "1.5",
         "body": [{"type": "Input.Text", "id": "mac", "isRequired": True}]},
    ]
    for bad in bad_cards:
        with pytest.raises(AssertionError, match=r"validate-card\.js rejected"):
            validate_cards([every_card()["welcome_admin"], bad])
