"""The declarations, the gate and the dispatcher, without HTTP: a feature declared with
`@command`/`@card_action` is routed, checked and listed with no other code."""
from __future__ import annotations

from typing import Any

import pytest

from bot.chat.dispatch import Dispatcher
from bot.chat.gate import Gate
from bot.chat.interactions import Command, CommandCall, Feature, Interactions, Menu, UsageError, card_action, command
from bot.chat.submission import Submission
from bot.chat.turn import Card, ChatTurn, ConsentAnswer, Place, Speaker
from bot.features import FEATURES, Help
from cards import actions as a
from provisioning.errors import DeviceNotFound
from storage.store import check_tenant_id


class RecordingTurn(ChatTurn):
    """A turn that keeps what the bot answered."""

    def __init__(self, *, is_admin: bool = True, private: bool = True, tenant: str = "t1") -> None:
        super().__init__(Speaker(tenant, "user-1", "29:user-1", "Ana", "test"),
                         Place("conv-1", private, False, None, None), is_admin=is_admin)
        self.said: list[str] = []
        self.shown: list[Card] = []

    async def say(self, text: str) -> str | None:
        self.said.append(text)
        return None

    async def show(self, card: Card, text: str | None = None) -> str | None:
        self.shown.append(card)
        return None

    async def replace(self, activity_id: str, card: Card) -> bool:
        return False

    async def offer_file(self, name: str, size: int, description: str, context: dict[str, Any]) -> None:
        raise AssertionError("not expected")

    async def show_uploaded_file(self, answer: ConsentAnswer, name: str) -> None:
        raise AssertionError("not expected")

    def conversation_reference(self) -> dict[str, Any]:
        return {}


class Lights(Feature):
    """A feature a newcomer might add: one command, one button (reusing a known action)."""

    title = "Lights"

    def __init__(self) -> None:
        self.runs: list[tuple[str, Any]] = []

    @command("blink", summary="Blink a device's light.", usage="blink <MAC>", menu_rank=20)
    async def blink(self, turn: ChatTurn, call: CommandCall) -> None:
        (mac,) = call.expect(1, 1)
        if mac == "missing":
            raise DeviceNotFound("missing is not one of this tenant's devices. Add it first.")
        self.runs.append(("blink", mac))

    @command("peek", summary="Show a secret.", usage="peek", menu_rank=21, secret="Peeks", admin_only=False)
    async def peek(self, turn: ChatTurn, call: CommandCall) -> None:
        self.runs.append(("peek", None))


class Everything(Feature):
    """Handles every card action but help's, so `Interactions` (with Help) accepts the set."""

    title = "Everything"

    def __init__(self) -> None:
        self.submitted: list[Submission] = []


for _name in sorted(a.ALL_ACTIONS - {a.SHOW_HELP}):  # Help answers that one
    async def _handler(self: Everything, turn: ChatTurn, submission: Submission) -> None:
        self.submitted.append(submission)
    _handler.__name__ = f"on_{_name}"
    setattr(Everything, _handler.__name__, card_action(_name)(_handler))


def dispatcher(*features: Feature) -> Dispatcher:
    help_ = Help(Menu([type(f) for f in features] + [Help]))
    return Dispatcher(Interactions([*features, help_]), Gate(check_tenant_id), help_)


async def test_a_declared_command_runs_with_its_arguments() -> None:
    lights = Lights()
    turn = RecordingTurn()
    await dispatcher(lights, Everything()).typed(turn, "BLINK 00-1A-2B-3C-4D-5E")
    assert lights.runs == [("blink", "00-1A-2B-3C-4D-5E")]


async def test_the_gate_refuses_a_non_admin_before_the_handler_runs() -> None:
    lights = Lights()
    turn = RecordingTurn(is_admin=False)
    await dispatcher(lights, Everything()).typed(turn, "blink 00-1A-2B-3C-4D-5E")
    assert lights.runs == []
    assert "not authorized to run `blink`" in turn.said[0] and "user-1" in turn.said[0]


async def test_the_gate_keeps_secrets_out_of_group_chats() -> None:
    lights = Lights()
    turn = RecordingTurn(private=False)
    await dispatcher(lights, Everything()).typed(turn, "peek")
    assert lights.runs == []
    assert "Peeks are secrets" in turn.said[0]


async def test_the_gate_refuses_an_unusable_tenant() -> None:
    lights = Lights()
    turn = RecordingTurn(tenant="")
    await dispatcher(lights, Everything()).typed(turn, "blink x")
    assert lights.runs == [] and "tenant id" in turn.said[0]


async def test_domain_refusals_and_usage_errors_become_answers() -> None:
    turn = RecordingTurn()
    run = dispatcher(Lights(), Everything())
    await run.typed(turn, "blink missing")
    await run.typed(turn, "blink")
    assert turn.said[0] == "missing is not one of this tenant's devices. Add it first."
    assert turn.said[1].endswith("Usage: `blink <MAC>`")


async def test_a_typo_is_answered_with_the_closest_declared_command() -> None:
    turn = RecordingTurn()
    await dispatcher(Lights(), Everything()).typed(turn, "blnk")
    assert "Did you mean `blink`" in turn.said[0]


async def test_help_flag_shows_the_command_card() -> None:
    turn = RecordingTurn()
    await dispatcher(Lights(), Everything()).typed(turn, "blink --help")
    assert len(turn.shown) == 1 and "blink <MAC>" in str(turn.shown[0])


async def test_a_card_submit_reaches_its_declared_action_through_the_gate() -> None:
    everything = Everything()
    run = dispatcher(Lights(), everything)
    await run.submit(RecordingTurn(), {"action": a.SHOW_STATUS, "card_id": "c1", "mac": "x"})
    refused = RecordingTurn(is_admin=False)
    await run.submit(refused, {"action": a.SHOW_STATUS, "card_id": "c2"})
    assert [s.card_id for s in everything.submitted] == ["c1"]
    assert "not authorized to do that" in refused.said[0]


@pytest.mark.parametrize("action", [None, 7, ["show_status"], "no_such_action"])
async def test_an_unknown_or_malformed_action_is_answered_plainly(action: object) -> None:
    turn = RecordingTurn()
    await dispatcher(Lights(), Everything()).submit(turn, {"action": action})
    assert "don't recognize that card's button" in turn.said[0]


def test_every_card_action_must_be_handled() -> None:
    with pytest.raises(ValueError, match="nobody handles"):
        Interactions([Lights()])


def test_an_interaction_declared_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        Menu([Lights, Lights])


def test_help_lists_the_features_in_their_declared_order() -> None:
    menu = Menu(FEATURES)
    assert [g.title for g in menu.groups] == [f.title for f in FEATURES]
    assert [g.title for g in menu.visible_to(is_admin=False)] == ["Help"]


def test_the_teams_command_menu_takes_the_first_twelve_by_rank() -> None:
    menu = Menu(FEATURES)
    chosen = menu.by_rank(12)
    assert len(chosen) == 12 and chosen[0].name == "help"
    ranks = [c.menu_rank for c in menu]
    assert len(set(ranks)) == len(ranks), "every command has its own place in the menu"
    left_out = set(c.name for c in menu) - {c.name for c in chosen}
    assert all(menu.get(name).menu_rank > chosen[-1].menu_rank for name in left_out)


def test_usage_error_names_the_command() -> None:
    declared = Command("x", "s", "x <y>", Lights.declarations()[0].rules, 1, "blink")
    assert UsageError("bad", declared).command is declared


async def test_a_race_lost_again_and_again_is_answered_plainly() -> None:
    from provisioning.repository import ConcurrentChange

    class Racing(Feature):
        title = "Racing"

        @command("race", summary="Lose every race.", usage="race", menu_rank=30)
        async def race(self, turn: ChatTurn, call: CommandCall) -> None:
            raise ConcurrentChange("lost")

    turn = RecordingTurn()
    await dispatcher(Racing(), Everything()).typed(turn, "race")
    assert "Nothing was changed" in turn.said[0] and "Try again" in turn.said[0]
