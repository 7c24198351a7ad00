"""The device lifecycle as pure transitions: every step allowed and refused, documents."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from provisioning import devices as lc
from provisioning.audit import Actor, AuditEvent
from provisioning.devices import (
    HISTORY_LIMIT,
    Device,
    DeviceState,
    SignInGrant,
    VerificationCode,
    parse_account,
)
from provisioning.documents import InvalidDocument, device_from_doc, device_to_doc
from provisioning.errors import InvalidAccount, TransitionRefused

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
MAC = "00-15-65-AA-BB-01"
ALL_STATES = list(DeviceState)


def code(now: datetime = T0, value: str = "123456789012", ttl: timedelta = timedelta(hours=24)) -> VerificationCode:
    return VerificationCode(value=value, issued_at=now, expires_at=now + ttl, issued_by="admin")


def grant(now: datetime = T0, ttl: timedelta = timedelta(minutes=15)) -> SignInGrant:
    return SignInGrant(
        device_code="dc-secret", user_code="BCDFGHJK", started_at=now,
        expires_at=now + ttl, interval=5, started_by="admin",
    )


def waiting(now: datetime = T0) -> Device:
    return lc.new_device("t", MAC, "Room 1", now, "Ada")


def with_code(now: datetime = T0) -> Device:
    return lc.with_code(waiting(now), code(now), now, "Ada")


def provisioned(now: datetime = T0) -> Device:
    return lc.provisioned(
        with_code(now), model="MP56", manufacturer="Yealink", firmware="122.15.0.36",
        device_token_hash="ab" * 32, now=now, by="device",
    )


def signing_in(now: datetime = T0) -> Device:
    return lc.start_sign_in(provisioned(now), grant(now), now, "Ada")


def approved(now: datetime = T0) -> Device:
    return lc.approve(signing_in(now), "room1@contoso.com", "aad-1", now, "Ada")


def signed_in(now: datetime = T0) -> Device:
    return lc.signed_in(approved(now), now, "device", session_id="s-1", access_token_hash="cd" * 32)


IN_STATE = {
    DeviceState.WAITING_ON_ACTIVATION: with_code,
    DeviceState.WAITING_FOR_SIGN_IN: provisioned,
    DeviceState.SIGNING_IN: signing_in,
    DeviceState.SIGNED_IN: signed_in,
}


def test_new_device_waits_on_activation_without_code() -> None:
    device = waiting()
    assert device.state is DeviceState.WAITING_ON_ACTIVATION
    assert (device.mac, device.location, device.created_at) == (MAC, "Room 1", T0)
    assert device.code is None and device.device_token_hash is None
    assert [h.action for h in device.history] == ["added"]


def test_with_code_voids_the_old_code_and_ends_a_lockout() -> None:
    first = with_code()
    locked = first
    locked = lc.locked_out(locked, 5, T0)
    assert locked.locked and locked.failed_attempts == 5
    later = T0 + timedelta(hours=1)
    second = lc.with_code(locked, code(later, "999999999999"), later, "Ada")
    assert second.code is not None and second.code.value == "999999999999"
    assert second.code.expires_at == later + timedelta(hours=24)
    assert (second.failed_attempts, second.locked) == (0, False)
    assert second.history[-1].action == "code reissued"


@pytest.mark.parametrize("state", [s for s in ALL_STATES if s is not DeviceState.WAITING_ON_ACTIVATION])
def test_with_code_refused_once_provisioned(state: DeviceState) -> None:
    with pytest.raises(TransitionRefused) as refused:
        lc.with_code(IN_STATE[state](), code(), T0, "Ada")
    if state is DeviceState.SIGNED_IN:
        assert "signed in" in refused.value.message
        assert "Factory reset the device" in refused.value.message
        assert "Waiting on activation" in refused.value.message
    else:
        assert "already provisioned" in refused.value.message


def test_a_lockout_records_the_attempts_and_ends_only_with_a_new_code() -> None:
    device = lc.locked_out(with_code(), 5, T0)
    assert (device.failed_attempts, device.locked) == (5, True)
    assert (device.history[-1].action, device.history[-1].detail) == ("locked out", "5 wrong codes; issue a new code")
    assert not device.has_usable_code(T0)


def test_provisioned_spends_the_code_and_records_hardware() -> None:
    device = provisioned()
    assert device.state is DeviceState.WAITING_FOR_SIGN_IN
    assert device.code is None
    assert (device.model, device.manufacturer, device.firmware) == ("MP56", "Yealink", "122.15.0.36")
    assert device.device_token_hash == "ab" * 32


@pytest.mark.parametrize(
    ("device", "words"),
    [
        (provisioned(), "already provisioned"),
        (signing_in(), "already provisioned"),
        (signed_in(), "Factory reset"),
        (waiting(), "no verification code"),
        (replace(with_code(), locked=True), "locked"),
        (replace(with_code(), code=code(T0 - timedelta(hours=25))), "expired"),
    ],
    ids=["waiting_for_sign_in", "signing_in", "signed_in", "no_code", "locked", "expired"],
)
def test_provisioned_refused(device: Device, words: str) -> None:
    with pytest.raises(TransitionRefused, match=words):
        lc.provisioned(
            device, model="m", manufacturer=None, firmware="1", device_token_hash="x",
            now=T0, by="device",
        )


def test_start_sign_in_from_waiting_for_sign_in() -> None:
    device = signing_in()
    assert device.state is DeviceState.SIGNING_IN
    assert device.sign_in == grant()


def test_start_sign_in_replaces_an_expired_grant() -> None:
    later = T0 + timedelta(minutes=15)
    device = lc.start_sign_in(signing_in(), grant(later), later, "Ada")
    assert device.sign_in is not None and device.sign_in.started_at == later


def test_start_sign_in_replaces_a_denied_grant() -> None:
    denied = lc.deny(signing_in(), T0, "Ada")
    device = lc.start_sign_in(denied, grant(T0), T0, "Ada")
    assert device.state is DeviceState.SIGNING_IN and not device.sign_in.denied


@pytest.mark.parametrize(
    ("device", "words"),
    [
        (with_code(), "waiting on activation"),
        (signed_in(), "already signed in as room1@contoso.com"),
        (signing_in(), "already pending"),
        (approved(), "already approved"),
    ],
    ids=["waiting_on_activation", "signed_in", "pending", "approved"],
)
def test_start_sign_in_refused(device: Device, words: str) -> None:
    with pytest.raises(TransitionRefused, match=words):
        lc.start_sign_in(device, grant(), T0 + timedelta(minutes=1), "Ada")


def test_approve_records_account_and_approver_but_waits_for_the_device() -> None:
    device = approved()
    assert device.state is DeviceState.SIGNING_IN
    assert device.sign_in is not None
    assert (device.sign_in.account, device.sign_in.approved_by) == ("room1@contoso.com", "aad-1")


@pytest.mark.parametrize(
    ("device", "when", "words"),
    [
        (with_code(), T0, "no sign-in pending"),
        (provisioned(), T0, "no sign-in pending"),
        (signed_in(), T0, "already signed in"),
        (signing_in(), T0 + timedelta(minutes=15), "expired"),
        (lc.deny(signing_in(), T0, "Ada"), T0, "cancelled"),
        (approved(), T0, "already approved"),
    ],
    ids=["waiting_on_activation", "waiting_for_sign_in", "signed_in", "expired", "denied", "approved"],
)
def test_approve_refused(device: Device, when: datetime, words: str) -> None:
    with pytest.raises(TransitionRefused, match=words):
        lc.approve(device, "x@contoso.com", "aad-1", when, "Ada")


@pytest.mark.parametrize("make", [signing_in, approved], ids=["pending", "approved"])
def test_deny_returns_to_waiting_for_sign_in_keeping_the_denied_grant(make) -> None:
    device = lc.deny(make(), T0, "Ada")
    assert device.state is DeviceState.WAITING_FOR_SIGN_IN
    assert device.sign_in is not None and device.sign_in.denied


@pytest.mark.parametrize(
    "device",
    [with_code(), provisioned(), signed_in(), lc.deny(signing_in(), T0, "Ada")],
    ids=["waiting_on_activation", "waiting_for_sign_in", "signed_in", "already_denied"],
)
def test_deny_refused(device: Device) -> None:
    with pytest.raises(TransitionRefused, match="no sign-in to cancel"):
        lc.deny(device, T0, "Ada")


def test_signed_in_takes_the_approved_account() -> None:
    device = signed_in()
    assert device.state is DeviceState.SIGNED_IN
    assert (device.account, device.signed_in_at, device.sign_in) == ("room1@contoso.com", T0, None)


@pytest.mark.parametrize(
    ("device", "when"),
    [(signing_in(), T0), (approved(), T0 + timedelta(minutes=15)), (provisioned(), T0)],
    ids=["not_approved", "expired", "no_grant"],
)
def test_signed_in_refused(device: Device, when: datetime) -> None:
    with pytest.raises(TransitionRefused):
        lc.signed_in(device, when, "device", session_id="s", access_token_hash="x")


def test_signed_in_starts_a_session() -> None:
    device = signed_in()
    assert (device.session_id, device.access_token_hash) == ("s-1", "cd" * 32)
    assert lc.session_key(device) == "session:s-1"


def test_sign_out_ends_the_session_and_keeps_the_provisioning() -> None:
    before = signed_in()
    later = T0 + timedelta(hours=2)
    after = lc.signed_out(before, later, "Ada")
    assert after.state is DeviceState.WAITING_FOR_SIGN_IN
    assert (after.account, after.signed_in_at, after.session_id, after.access_token_hash, after.sign_in) == (None,) * 5
    kept = ("tenant_id", "mac", "location", "model", "manufacturer", "firmware", "device_token_hash", "created_at")
    assert [getattr(after, k) for k in kept] == [getattr(before, k) for k in kept]
    assert after.code is None, "no new verification code"
    assert (after.history[-1].action, after.history[-1].actor, after.history[-1].detail) == (
        "signed out", "Ada", "was room1@contoso.com")
    assert lc.session_key(after) == ""


def test_a_session_named_on_approval_keeps_its_name_once_collected() -> None:
    named = lc.approve(signing_in(), "room1@contoso.com", "aad-1", T0, "Ada", session_id="s-9")
    key = lc.session_key(named)
    collected = lc.signed_in(named, T0, "device", session_id="unused", access_token_hash="x")
    assert collected.session_id == "s-9" and lc.session_key(collected) == key == "session:s-9"


def test_sign_out_of_an_approved_grant_not_collected_denies_it() -> None:
    after = lc.signed_out(approved(), T0 + timedelta(minutes=1), "Ada")
    assert after.state is DeviceState.WAITING_FOR_SIGN_IN
    assert after.sign_in is not None and after.sign_in.denied, "the next poll gets access_denied"
    assert after.account is None and after.history[-1].action == "signed out"
    with pytest.raises(TransitionRefused):
        lc.signed_in(after, T0 + timedelta(minutes=2), "device", session_id="s", access_token_hash="x")


@pytest.mark.parametrize(
    ("device", "when", "words"),
    [
        (with_code(), T0, "not signed in \\(Waiting on activation\\)"),
        (provisioned(), T0, "not signed in \\(Waiting for sign in\\)"),
        (signing_in(), T0, "waiting for approval"),
        (approved(), T0 + timedelta(minutes=15), "expired"),
        (lc.signed_out(signed_in(), T0, "Ada"), T0, "nothing to sign out"),
    ],
    ids=["waiting_on_activation", "waiting_for_sign_in", "pending", "approved_but_expired", "signed_out"],
)
def test_sign_out_refused(device: Device, when: datetime, words: str) -> None:
    with pytest.raises(TransitionRefused, match=words):
        lc.signed_out(device, when, "Ada")


def test_switch_account_ends_the_session_and_starts_a_grant_for_the_new_account() -> None:
    later = T0 + timedelta(hours=1)
    new_grant = replace(grant(later), account="room2@contoso.com")
    after = lc.switch_account(signed_in(), new_grant, later, "Ada")
    assert after.state is DeviceState.SIGNING_IN and after.sign_in == new_grant
    assert (after.account, after.session_id, after.access_token_hash, after.signed_in_at) == (None,) * 4
    assert after.device_token_hash == "ab" * 32
    assert after.history[-1].action == "account change"
    assert after.history[-1].detail == "from room1@contoso.com to room2@contoso.com; sign-in started"


@pytest.mark.parametrize(
    ("device", "account", "words"),
    [
        (provisioned(), "room2@contoso.com", "not signed in"),
        (approved(), "room2@contoso.com", "not signed in"),
        (signed_in(), "ROOM1@contoso.com", "already signed in as room1@contoso.com"),
    ],
    ids=["waiting_for_sign_in", "approved", "same_account"],
)
def test_switch_account_refused(device: Device, account: str, words: str) -> None:
    with pytest.raises(TransitionRefused, match=words):
        lc.switch_account(device, replace(grant(), account=account), T0, "Ada")


def test_a_signed_in_device_is_told_how_to_change_or_end_its_account() -> None:
    with pytest.raises(TransitionRefused, match=f"signout {MAC}"):
        lc.start_sign_in(signed_in(), grant(), T0, "Ada")


def test_documents_written_before_sessions_existed_still_load() -> None:
    doc = device_to_doc(signed_in())
    del doc["session_id"], doc["access_token_hash"]
    device = device_from_doc(json.loads(json.dumps(doc)))
    assert device.state is DeviceState.SIGNED_IN and (device.session_id, device.access_token_hash) == (None, None)
    assert lc.signed_out(device, T0, "Ada").state is DeviceState.WAITING_FOR_SIGN_IN


def test_with_poll_records_the_poll_and_the_interval() -> None:
    device = lc.with_poll(signing_in(), T0 + timedelta(seconds=3), 10)
    assert device.sign_in is not None
    assert (device.sign_in.last_poll_at, device.sign_in.interval) == (T0 + timedelta(seconds=3), 10)


@pytest.mark.parametrize("state", ALL_STATES)
def test_factory_reset_from_every_state_keeps_only_identity(state: DeviceState) -> None:
    before = IN_STATE[state]()
    later = T0 + timedelta(days=1)
    after = lc.factory_reset(before, later, "device")
    assert after.state is DeviceState.WAITING_ON_ACTIVATION
    assert (after.tenant_id, after.mac, after.location, after.created_at) == (
        before.tenant_id, before.mac, before.location, before.created_at,
    )
    assert after.updated_at == later
    cleared = (after.model, after.manufacturer, after.firmware, after.code, after.device_token_hash,
               after.sign_in, after.account, after.signed_in_at, after.session_id, after.access_token_hash)
    assert cleared == (None,) * 10
    assert (after.failed_attempts, after.locked) == (0, False)
    assert after.history[:-1] == before.history[-(HISTORY_LIMIT - 1):]
    assert after.history[-1].action == "factory reset"


def test_history_is_capped_newest_last() -> None:
    device = waiting()
    for i in range(HISTORY_LIMIT + 10):
        device = lc.with_code(device, code(T0 + timedelta(minutes=i)), T0 + timedelta(minutes=i), "Ada")
    assert len(device.history) == HISTORY_LIMIT
    assert device.history[-1].at == T0 + timedelta(minutes=HISTORY_LIMIT + 9)


def test_history_never_holds_the_code() -> None:
    device = approved()
    text = json.dumps(device_to_doc(device)["history"])
    assert "123456789012" not in text and "dc-secret" not in text and "BCDFGHJK" not in text


@pytest.mark.parametrize("make", [waiting, with_code, provisioned, signing_in, approved, signed_in])
def test_documents_round_trip_exactly_through_json(make) -> None:
    device = lc.with_poll(signing_in(), T0 + timedelta(microseconds=7), 10) if make is signing_in else make()
    doc = json.loads(json.dumps(device_to_doc(device)))
    assert device_from_doc(doc) == device
    assert doc["state"] == device.state.value


def test_the_document_format_is_pinned_key_for_key() -> None:
    # The store writes these dicts as they are: key order and value forms are the file format.
    doc = device_to_doc(approved())
    assert json.dumps(doc) == (
        '{"tenant_id": "t", "mac": "00-15-65-AA-BB-01", "location": "Room 1", "state": "signing_in", '
        '"created_at": "2026-11-27T09:00:00+00:00", "updated_at": "2026-11-27T09:00:00+00:00", "model": "MP56", '
        '"manufacturer": "Yealink", "firmware": "122.15.0.36", "code": null, "failed_attempts": 0, "locked": false, '
        '"device_token_hash": "' + "ab" * 32 + '", '
        '"sign_in": {"device_code": "dc-secret", "user_code": "BCDFGHJK", "started_at": "2026-11-27T09:00:00+00:00", '
        '"expires_at": "2026-11-27T09:15:00+00:00", "interval": 5, "started_by": "admin", '
        '"account": "room1@contoso.com", "approved_by": "aad-1", "approved_at": "2026-11-27T09:00:00+00:00", '
        '"denied": false, "last_poll_at": null, "session_id": null}, "account": null, "signed_in_at": null, '
        '"session_id": null, "access_token_hash": null, '
        '"history": [{"at": "2026-11-27T09:00:00+00:00", "action": "added", "actor": "Ada", '
        '"detail": "location: Room 1"}, '
        '{"at": "2026-11-27T09:00:00+00:00", "action": "code issued", "actor": "Ada", '
        '"detail": "expires at 2026-11-28 09:00 UTC"}, '
        '{"at": "2026-11-27T09:00:00+00:00", "action": "provisioned", "actor": "device", '
        '"detail": "Yealink MP56, firmware 122.15.0.36"}, '
        '{"at": "2026-11-27T09:00:00+00:00", "action": "sign-in started", "actor": "Ada", "detail": ""}, '
        '{"at": "2026-11-27T09:00:00+00:00", "action": "sign-in approved", "actor": "Ada", '
        '"detail": "for room1@contoso.com"}]}'
    )


def _broken(path: str, value: object) -> dict:
    """The document of an approved device with one field (`a.b` for nested) set to `value`
    (or removed, for `...`)."""
    doc = json.loads(json.dumps(device_to_doc(approved())))
    *outer, name = path.split(".")
    target = doc
    for part in outer:
        target = target[part] if not isinstance(target, list) else target[int(part)]
    if value is ...:
        del target[name]
    else:
        target[name] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("state", "bogus_state", "state 'bogus_state' is not one of waiting_on_activation, waiting_for_sign_in"),
        ("state", None, "state None is not one of"),
        ("mac", "00:15:65:aa:bb:01", "mac '00:15:65:aa:bb:01' is not a MAC ID in the stored form"),
        ("mac", ..., "mac is missing"),
        ("location", 42, "location is a JSON number, not text"),
        ("tenant_id", None, "tenant_id is null, not text"),
        ("created_at", "yesterday", "created_at is not an ISO 8601 time"),
        ("updated_at", "2026-11-27T09:00:00", "updated_at is not an ISO 8601 time with its UTC offset"),
        ("model", ["MP56"], "model is a JSON array, not text or null"),
        ("failed_attempts", "3", "failed_attempts is a JSON string, not a whole number"),
        ("locked", "no", "locked is a JSON string, not true or false"),
        ("sign_in", "pending", "sign_in is a JSON string, not an object"),
        ("sign_in.device_code", 7, "sign_in.device_code is a JSON number, not text"),
        ("sign_in.interval", 5.5, "sign_in.interval is a JSON number, not a whole number"),
        ("history", {}, "history is a JSON object, not a list"),
        ("history.0.at", None, "history.at is null, not a time"),
    ],
)
def test_a_document_that_describes_no_device_is_refused_naming_the_field(path: str, value: object, reason: str) -> None:
    with pytest.raises(InvalidDocument) as refused:
        device_from_doc(_broken(path, value))
    assert reason in str(refused.value)


def test_a_refused_document_never_quotes_a_secret() -> None:
    doc = _broken("sign_in.expires_at", "dc-secret")  # a secret where a time should be
    doc["code"] = {"value": 123456789012, "issued_at": "x", "expires_at": "x", "issued_by": "a"}
    with pytest.raises(InvalidDocument) as refused:
        device_from_doc(doc)
    assert str(refused.value) == "code.value is a JSON number, not text"
    with pytest.raises(InvalidDocument) as refused:
        device_from_doc(_broken("sign_in.expires_at", "dc-secret"))
    assert "dc-secret" not in str(refused.value)


def test_audit_event_document_round_trips() -> None:
    event = AuditEvent(
        at=T0, tenant_id="t", actor=Actor("aad-1", "Ada", "chat"), action="device.added",
        mac=MAC, detail={"location": "Room 1", "count": 2},
    )
    assert AuditEvent.from_doc(json.loads(json.dumps(event.to_doc()))) == event


def test_actor_source_is_chat_or_device_api() -> None:
    Actor("AA", "device", "device_api")
    with pytest.raises(ValueError, match="source"):
        Actor("x", "x", "email")


@pytest.mark.parametrize("text", ["room1@contoso.com", " a.b-c+d@sub.contoso.co.uk ", "X@Y.IO"])
def test_parse_account_accepts_upns(text: str) -> None:
    assert parse_account(text) == text.strip()


@pytest.mark.parametrize(
    "text", ["", "   ", "room1", "room1@contoso", "@contoso.com", "a b@contoso.com",
             "a@contoso..com", "a@-contoso.com", "a@contoso.c0m", "a" * 250 + "@contoso.com"],
)
def test_parse_account_refuses_with_an_example(text: str) -> None:
    with pytest.raises(InvalidAccount, match=r"room101@contoso\.com"):
        parse_account(text)
