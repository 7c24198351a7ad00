"""msrest shortcuts for a turn's hot path, equal in output to msrest itself.

`TurnContext` deep-copies every reply, card included; msrest rebuilds a card value by
value to serialize an `expectReplies` body and walks the whole schema to read an incoming
activity. Here `CardSharingTurnContext` shares the card dict instead of copying it, and
`expected_replies_body` / `activity_from_json` take msrest's common JSON cases directly,
handing anything unusual to msrest whole (tests/bot/test_adapter_fast_paths.py compares
every output with msrest's).
"""
from __future__ import annotations

import copy
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, Attachment, ExpectedReplies, ResourceResponse
from msrest.serialization import Deserializer, Model, Serializer

_PLAIN_SCALARS = frozenset({str, int, float, bool, type(None)})  # JSON's scalars; deepcopy returns them as they are
_PLAIN_STATE: dict[type, bool] = {}


def _has_plain_state(cls: type) -> bool:
    """True if `copy.deepcopy` copies instances of `cls` as a new object with a deep-copied `__dict__`."""
    if cls not in _PLAIN_STATE:
        hooks = ("__deepcopy__", "__reduce__", "__reduce_ex__", "__getstate__", "__setstate__", "__slots__")
        _PLAIN_STATE[cls] = not any(name in base.__dict__ for base in cls.__mro__[:-1] for name in hooks)
    return _PLAIN_STATE[cls]


def _copy_sharing_cards(value: Any, memo: dict[int, Any]) -> Any:
    """`copy.deepcopy(value, memo)`, except that an attachment's dict content is the same dict.

    Models are copied the way `deepcopy` copies them (a new instance, every attribute
    copied deeply) without its generic reduce machinery; anything else is `deepcopy`'s.
    """
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return value
    if id(value) in memo:
        return memo[id(value)]
    if kind is list:
        items: list[Any] = []
        memo[id(value)] = items
        items.extend(_copy_sharing_cards(item, memo) for item in value)
        return items
    if isinstance(value, Model) and _has_plain_state(kind):
        clone = kind.__new__(kind)  # type: ignore[call-overload]
        memo[id(value)] = clone
        sharing = isinstance(value, Attachment)
        clone.__dict__.update({
            name: item if sharing and name == "content" and type(item) is dict else _copy_sharing_cards(item, memo)
            for name, item in value.__dict__.items()
        })
        return clone
    return copy.deepcopy(value, memo)


class _CardSharingCopy:
    """Stands in for a reply in `TurnContext.send_activities`, which only deep-copies it."""

    __slots__ = ("activity",)

    def __init__(self, activity: Activity) -> None:
        self.activity = activity

    def __deepcopy__(self, memo: dict[int, Any]) -> Activity:
        return _copy_sharing_cards(self.activity, memo)


class CardSharingTurnContext(TurnContext):
    """Sends deep copies of replies as botbuilder does, except the card dicts, which are shared.

    The copy exists so conversation addressing applied to a reply does not change the
    caller's activity; a card dict is never touched by that, and ours are built per reply.
    """

    async def send_activities(self, activities: list[Activity]) -> list[ResourceResponse]:
        shared = [_CardSharingCopy(a) if isinstance(a, Activity) else a for a in activities]
        return await super().send_activities(shared)


def _is_plain_json(value: Any) -> bool:
    """True if msrest's `serialize_object` gives back an equal value: exact JSON types only.

    (It turns a dict or list *subclass*, a tuple or an enum into its `str()`.) A loop,
    not recursion: this walks every node of a card on every turn.
    """
    stack = [value]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is dict:
            for key, child in node.items():
                if type(key) is not str:
                    return False
                child_kind = type(child)
                if child_kind is dict or child_kind is list:
                    stack.append(child)
                elif child_kind not in _PLAIN_SCALARS:
                    return False
        elif kind is list:
            for child in node:
                child_kind = type(child)
                if child_kind is dict or child_kind is list:
                    stack.append(child)
                elif child_kind not in _PLAIN_SCALARS:
                    return False
        elif kind not in _PLAIN_SCALARS:
            return False
    return True


# How each attribute type is handled by the fast paths below; anything else goes to msrest.
_STR, _OBJECT, _MODEL, _MODEL_LIST, _OTHER = range(5)
_MODELS = Activity._infer_class_models()  # the schema's classes, as Model.serialize()/deserialize() find them
_SERIALIZER = Serializer(_MODELS)  # what Model.serialize() builds per call; it keeps no state between calls
_DESERIALIZER = Deserializer(_MODELS)  # likewise for Model.deserialize()
_Field = tuple[str, str, int, dict[str, Any]]  # attribute, JSON key, handling, msrest attribute description
_PLANS: dict[tuple[type, bool], tuple[_Field, ...] | None] = {}
_KNOWN_KEYS: dict[type, frozenset[str]] = {}  # per class, the JSON keys that are not additional properties


class _Unsure(Exception):
    """A fast path met something msrest handles its own way: let msrest do the whole thing."""


def _model_class(type_name: str) -> type | None:
    cls = _MODELS.get(type_name)
    return cls if isinstance(cls, type) and issubclass(cls, Model) else None


def _handling(kind: str) -> int:
    if kind == "str":
        return _STR
    if kind == "object":
        return _OBJECT
    if kind.startswith("[") and kind.endswith("]") and _model_class(kind[1:-1]):
        return _MODEL_LIST
    if _model_class(kind):
        return _MODEL
    return _OTHER


def _plan(cls: type, writing: bool) -> tuple[_Field, ...] | None:
    """The attributes msrest reads or writes for `cls`, in its order; None if msrest must do it.

    Flattened or escaped keys, additional-properties entries, duplicate keys and
    polymorphic classes follow rules of msrest's own that these fast paths don't copy.
    """
    if (cls, writing) in _PLANS:
        return _PLANS[(cls, writing)]
    fields: list[_Field] = []
    plan: tuple[_Field, ...] | None = None
    keys = set()
    for attr, desc in cls._attribute_map.items():  # type: ignore[attr-defined]
        key = desc["key"]
        if not key or "." in key or "\\" in key or key in keys or attr == "additional_properties" \
                or cls.__dict__.get("_subtype_map"):
            break
        keys.add(key)
        if writing and cls._validation.get(attr, {}).get("readonly", False):  # type: ignore[attr-defined]
            continue  # msrest leaves read-only attributes out of request bodies
        fields.append((attr, key, _handling(desc["type"]), desc))
    else:
        plan = tuple(fields)
        _KNOWN_KEYS[cls] = frozenset(keys)  # what msrest's _build_additional_properties works out per call
    _PLANS[(cls, writing)] = plan
    return plan


def _serialize_by_msrest(value: Any, desc: dict[str, Any]) -> Any:
    return _SERIALIZER.serialize_data(value, desc["type"], keep_readonly=False, is_xml=False, serialization_ctxt=desc)


def _serialize_model(model: Any) -> dict[str, Any]:
    """msrest's `Serializer._serialize` for JSON, with its common cases done directly.

    Plain strings and plain-JSON objects are taken as they are (msrest would rebuild an
    equal copy, value by value); models recurse; every other value goes through msrest's
    own `serialize_data`, with its rule that a ValueError leaves the attribute out.
    """
    plan = _plan(type(model), writing=True)
    if plan is None:
        raise _Unsure(type(model).__name__)
    serialized: dict[str, Any] = {}
    for attr, key, handling, desc in plan:
        value = getattr(model, attr)
        if value is None:
            continue  # msrest: serialize_data raises ValueError for None, the attribute is skipped
        if handling == _STR and type(value) is str:
            serialized[key] = value
        elif handling == _OBJECT and (type(value) is dict or type(value) is list) and _is_plain_json(value):
            serialized[key] = value  # shared, not copied: the body is encoded right after
        elif handling == _MODEL and isinstance(value, Model):
            serialized[key] = _serialize_model(value)
        elif handling == _MODEL_LIST and type(value) is list:
            serialized[key] = [_serialize_item(item, desc) for item in value]
        else:
            try:
                serialized[key] = _serialize_by_msrest(value, desc)
            except ValueError:
                continue
    return serialized


def _serialize_item(item: Any, desc: dict[str, Any]) -> Any:
    if item is None:
        return None  # msrest's serialize_iter: a None item stays None
    if isinstance(item, Model):
        return _serialize_model(item)
    raise _Unsure(f"a {type(item).__name__} in a list of models")


def expected_replies_body(replies: list[Activity]) -> dict[str, Any]:
    """Equal to `ExpectedReplies(activities=replies).serialize()`, in a fraction of the time.

    msrest rebuilds every card value by value through several calls each (about 2 ms
    for a help card); the fast path above takes plain JSON as it is. Whatever it is
    unsure of is left to msrest whole, so the result is always what msrest gives.
    """
    expected = ExpectedReplies(activities=replies)
    try:
        return _serialize_model(expected)
    except Exception:  # _Unsure, or anything msrest should be the one to report
        return _SERIALIZER._serialize(expected, keep_readonly=False)


def _deserialize_model(cls: type, data: dict[str, Any]) -> Any:
    """msrest's `Deserializer._deserialize` for JSON, with its common cases done directly.

    A string attribute that holds a string, an object attribute that holds plain JSON
    (msrest would rebuild an equal copy) and nested models are taken directly; every
    other value goes through msrest's own `deserialize_data`, and msrest's own helpers
    collect unknown keys and build the model.
    """
    plan = _plan(cls, writing=False)
    if plan is None:
        raise _Unsure(cls.__name__)
    attrs: dict[str, Any] = {}
    for attr, key, handling, desc in plan:
        raw = data.get(key)
        if raw is None:
            attrs[attr] = None
        elif handling == _STR and type(raw) is str:
            attrs[attr] = raw
        elif handling == _OBJECT and _is_plain_json(raw):
            attrs[attr] = raw  # shared with the parsed body, which nothing else holds
        elif handling == _MODEL and type(raw) is dict:
            attrs[attr] = _deserialize_model(_MODELS[desc["type"]], raw)
        elif handling == _MODEL_LIST and type(raw) is list:
            item_class = _MODELS[desc["type"][1:-1]]
            attrs[attr] = [_deserialize_item(item_class, item) for item in raw]
        else:
            attrs[attr] = _DESERIALIZER.deserialize_data(raw, desc["type"])
    extra = {key: data[key] for key in set(data.keys()) - _KNOWN_KEYS[cls]}  # as msrest collects them
    return _DESERIALIZER._instantiate_model(cls, attrs, extra)


def _deserialize_item(item_class: type, item: Any) -> Any:
    if item is None:
        return None  # msrest's deserialize_iter: a None item stays None
    if type(item) is dict:
        return _deserialize_model(item_class, item)
    raise _Unsure(f"a {type(item).__name__} in a list of {item_class.__name__}")


def activity_from_json(body: dict[str, Any]) -> Activity:
    """Equal to `Activity().deserialize(body)` for a parsed JSON object, in a fraction of the time.

    Anything the fast path is unsure of is left to msrest whole, which also raises
    msrest's own errors for values of the wrong type.
    """
    try:
        return _deserialize_model(Activity, body)
    except Exception:
        return _DESERIALIZER("Activity", body)
