"""Every card, in every variant and at its largest, passes the official renderer's checks
(`tests/tools/validate_card.mjs`: schema 1.5, strict), in one node run."""
from __future__ import annotations

import pytest

from tests.cardcheck import validate_cards
from tests.cards.samples import every_card
from tests.cards.worst_case import worst_cards


def test_every_card_is_valid_for_teams() -> None:
    validate_cards([*every_card().values(), *worst_cards().values()])


def _card(*body: dict, version: str = "1.5") -> dict:
    return {"type": "AdaptiveCard", "version": version, "body": list(body)}


@pytest.mark.parametrize(("bad", "reported"), [
    # a typo every renderer silently ignores
    (_card({"type": "Input.Text", "id": "mac", "label": "MAC", "palceholder": "AA-BB"}),
     r'unknown property "palceholder" on Input\.Text#mac'),
    # an element of schema 1.6, which Teams does not render
    (_card({"type": "Carousel", "pages": [{"type": "CarouselPage",
                                           "items": [{"type": "TextBlock", "text": "x"}]}]}),
     r'Unknown element type "Carousel"'),
    # a property of schema 1.6
    (_card({"type": "Input.Text", "id": "mac", "label": "MAC", "labelPosition": "inline"}),
     r'"labelPosition" is supported in version 1\.6'),
    # a required input without a label
    (_card({"type": "Input.Text", "id": "mac", "isRequired": True, "errorMessage": "Enter a MAC."}),
     r"RequiredInputsShouldHaveLabel"),
    (_card(version="1.6"), r"declares version 1\.6"),
], ids=["unknown-property", "1.6-element", "1.6-property", "required-input-without-label", "version-1.6"])
def test_the_check_rejects_what_teams_would_not_render(bad: dict, reported: str) -> None:
    good = every_card()["welcome_admin"]
    validate_cards([good, _card({"type": "TextBlock", "text": "fine", "wrap": True})])
    with pytest.raises(AssertionError, match=r"(?s)validate_card\.mjs rejected.*\$\[1\]: .*" + reported):
        validate_cards([good, bad])


def test_the_project_refers_to_nothing_outside_itself() -> None:
    import subprocess

    from tests.tools.install import REPO_ROOT

    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout, so the tracked files can't be listed")
    outside = "../" + "shared"
    hits = [name for name in tracked.stdout.splitlines()
            if (REPO_ROOT / name).is_file() and outside in (REPO_ROOT / name).read_text(errors="ignore")]
    assert hits == []
