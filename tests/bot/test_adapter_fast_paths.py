"""The adapter's per-turn shortcuts change nothing on the wire.

`expected_replies_body` must equal msrest's `ExpectedReplies(...).serialize()` byte for
byte (compared as encoded JSON, so key order counts), for the cards the bot sends and
for the values msrest treats specially; `activity_from_json` must build the same
`Activity` as msrest's `Activity().deserialize()` and refuse what it refuses; the
card-sharing turn context must send the same replies as botbuilder's without touching
the caller's activity.
"""
from __future__ import annotations

import copy
import enum
import json
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    CardAction,
    ChannelAccount,
    ConversationAccount,
    DeliveryModes,
    Entity,
    ExpectedReplies,
    SuggestedActions,
    TextHighlight,
)

import cards
from bot.botframework.adapter import FastRepliesAdapter, bot_framework_authentication
from bot.botframework.msrest_fast import activity_from_json, expected_replies_body
from bot.settings import Settings
from tests.bot.chat import FIXTURES

CARD_TYPE = "application/vnd.microsoft.card.adaptive"


class Color(enum.Enum):
    RED = "red"


def _incoming() -> Activity:
    return Activity(
        type=ActivityTypes.message,
        id="in-1",
        channel_id="emulator",
        service_url="http://localhost:52718",
        from_property=ChannelAccount(id="user-1", name="User", role="user"),
        recipient=ChannelAccount(id="bot-1", name="Bot", role="bot"),
        conversation=ConversationAccount(id="conv-1|livechat"),
        locale="en-US",
        text="help",
        delivery_mode=DeliveryModes.expect_replies,
    )


def _addressed(reply: Activity) -> Activity:
    """A reply as TurnContext buffers it: addressed to the incoming conversation."""
    return TurnContext.apply_conversation_reference(reply, TurnContext.get_conversation_reference(_incoming()))


def _card_reply(content: Any) -> Activity:
    # Not CardFactory: it refuses anything but a dict, and these cover what msrest may meet.
    return _addressed(MessageFactory.attachment(Attachment(content_type=CARD_TYPE, content=content)))


def _assert_same_as_msrest(replies: list[Activity]) -> None:
    expected = orjson.dumps(ExpectedReplies(activities=replies).serialize())
    assert orjson.dumps(expected_replies_body(replies)) == expected


def test_a_real_card_reply_serializes_exactly_as_msrest_does() -> None:
    card = cards.welcome_card("card-1", is_admin=True)
    _assert_same_as_msrest([_card_reply(card), _addressed(MessageFactory.text("Added."))])


def test_a_reply_with_every_kind_of_model_field_serializes_exactly_as_msrest_does() -> None:
    reply = _addressed(Activity(
        type=ActivityTypes.message,
        text="pick one",
        timestamp=datetime(2026, 11, 27, 10, 59, 58, tzinfo=UTC),
        suggested_actions=SuggestedActions(to=["user-1"],
                                           actions=[CardAction(type="imBack", title="Yes", value="yes")]),
        entities=[Entity(type="mention")],
        channel_data={"notification": {"alert": True}, "count": 3, "ratio": 0.5, "none": None},
        value={"action": "add", "rows": [1, 2, 3]},
        text_highlights=[TextHighlight(text="one", occurrence=1)],
        attachments=[CardFactory.adaptive_card({"type": "AdaptiveCard", "version": "1.5", "body": []})],
    ))
    _assert_same_as_msrest([reply])


@pytest.mark.parametrize("content", [
    {"tuple": (1, 2)},  # msrest writes str((1, 2))
    OrderedDict(type="AdaptiveCard"),  # a dict subclass: msrest writes its str()
    {"nested": OrderedDict(a=1)},
    {"enum": Color.RED},
    {"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)},
    {1: "a non-string key"},
    {"deep": [[{"x": [None, True, 1.5]}]]},
    [{"a list": "as content"}],
    "a string",
    None,  # msrest leaves a None content out altogether
])
def test_unusual_card_content_serializes_exactly_as_msrest_does(content: Any) -> None:
    _assert_same_as_msrest([_card_reply(content)])


def test_a_missing_reply_in_the_list_serializes_exactly_as_msrest_does() -> None:
    _assert_same_as_msrest([_addressed(MessageFactory.text("one")), None])


def _rich_reply() -> Activity:
    return Activity(
        type=ActivityTypes.message,
        text="pick one",
        timestamp=datetime(2026, 11, 27, 10, 59, 58, tzinfo=UTC),
        suggested_actions=SuggestedActions(to=["user-1"],
                                           actions=[CardAction(type="imBack", title="Yes", value="yes")]),
        entities=[Entity(type="mention")],
        channel_data={"notification": {"alert": True}},
        attachments=[
            CardFactory.adaptive_card({"type": "AdaptiveCard", "version": "1.5", "body": []}),
            Attachment(content_type="application/json", content=["a", "list"]),
        ],
    )


async def test_replies_are_the_copies_botbuilder_makes_apart_from_the_card() -> None:
    adapter = FastRepliesAdapter(bot_framework_authentication(Settings()))
    ours = adapter._create_turn_context(_incoming(), None, "", None, None, None, None)  # type: ignore[arg-type]
    stock = TurnContext(adapter, _incoming())
    reply = _rich_reply()

    await ours.send_activity(reply)
    await stock.send_activity(reply)

    assert ours.buffered_reply_activities == stock.buffered_reply_activities
    sent = ours.buffered_reply_activities[0]
    assert type(sent) is Activity
    assert sent.suggested_actions is not reply.suggested_actions
    assert sent.suggested_actions.actions[0] is not reply.suggested_actions.actions[0]
    assert sent.channel_data is not reply.channel_data and sent.entities[0] is not reply.entities[0]
    assert sent.attachments[1].content is not reply.attachments[1].content, "only dict (card) contents are shared"
    assert sent.attachments[0].content is reply.attachments[0].content


async def test_replies_share_the_card_but_leave_the_callers_activity_as_it_was() -> None:
    adapter = FastRepliesAdapter(bot_framework_authentication(Settings()))
    context = adapter._create_turn_context(_incoming(), None, "", None, None, None, None)  # type: ignore[arg-type]
    card = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "hi"}]}
    reply = MessageFactory.attachment(CardFactory.adaptive_card(card))

    await context.send_activity(reply)

    sent = context.buffered_reply_activities
    assert len(sent) == 1
    assert sent[0] is not reply and sent[0].attachments[0] is not reply.attachments[0]
    assert sent[0].attachments[0].content is card
    assert sent[0].conversation.id == "conv-1|livechat" and sent[0].reply_to_id == "in-1"
    assert reply.conversation is None and reply.reply_to_id is None, "the caller's activity is not addressed"
    assert type(reply.attachments[0].content) is dict and reply.attachments[0].content is card


def _assert_read_as_msrest_reads(body: dict[str, Any]) -> Activity:
    expected = Activity().deserialize(copy.deepcopy(body))
    activity = activity_from_json(body)
    assert activity == expected  # msrest models compare every attribute, nested models too
    assert orjson.dumps(activity.serialize()) == orjson.dumps(expected.serialize())
    return activity


@pytest.mark.parametrize("sample", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_sample_activity_reads_exactly_as_msrest_reads_it(sample: str) -> None:
    _assert_read_as_msrest_reads(json.loads((FIXTURES / sample).read_text()))


def test_odd_but_valid_values_read_exactly_as_msrest_reads_them() -> None:
    activity = _assert_read_as_msrest_reads({
        "type": "message",
        "text": 42,  # msrest makes a string of it
        "timestamp": "2026-11-27T10:59:58.123Z",
        "expiration": "2026-11-27T11:59:58+01:00",
        "historyDisclosed": "true",
        "membersAdded": [{"id": "a", "name": "A"}, None],
        "entities": [{"type": "mention", "mentioned": {"id": "bot"}, "text": "<at>Bot</at>"}],
        "value": {"action": "add", "rows": [1, 2.5, True, None, {"x": "y"}]},
        "channelData": "a string is an object too",
        "suggestedActions": {"to": ["u"], "actions": [{"type": "imBack", "title": "Yes", "value": "yes"}]},
        "somethingNew": {"kept": "as an additional property"},
    })
    assert activity.text == "42" and activity.history_disclosed is True
    assert activity.additional_properties == {"somethingNew": {"kept": "as an additional property"}}


@pytest.mark.parametrize("changes", [
    {"from": "not an object"},
    {"conversation": 12},
    {"membersAdded": "not a list"},
    {"membersAdded": ["not an object"]},
    {"timestamp": "not a time"},
])
def test_wrong_types_are_refused_as_msrest_refuses_them(changes: dict[str, Any]) -> None:
    body = dict(json.loads((FIXTURES / "emulator_message.json").read_text()), **changes)
    with pytest.raises(Exception) as expected:
        Activity().deserialize(copy.deepcopy(body))
    with pytest.raises(type(expected.value)):
        activity_from_json(body)
