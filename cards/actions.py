"""The names of every Action.Submit the cards send, and the device-list tab names.

A submit arrives at the bot as a message whose `value` is the action's `data` merged
with the card's input values: always `{"action": <name>, "card_id": <id>, ...}` with the
snake_case fields listed beside each name below. The bot's dispatcher routes on exactly
these names and must validate every field like typed input (cards can be forged).
"""
from __future__ import annotations

from typing import Final

SHOW_HELP: Final = "show_help"  # -
SHOW_ADD_FORM: Final = "show_add_form"  # -
ADD_DEVICE: Final = "add_device"  # inputs: mac, location
LIST_DEVICES: Final = "list_devices"  # tab, page (both absent: the summary, like `list`)
ISSUE_CODE: Final = "issue_code"  # mac, expected_state, code_issued_at ("" if none)
ISSUE_ALL_CODES: Final = "issue_all_codes"  # -
SHOW_CODES: Final = "show_codes"  # page (optional, 1-based)
REMOVE_REQUEST: Final = "remove_request"  # mac
REMOVE_CONFIRM: Final = "remove_confirm"  # mac, expected_state
REMOVE_CANCEL: Final = "remove_cancel"  # mac
EXPORT: Final = "export"  # tab (waiting | signin | all)
TEMPLATE: Final = "template"  # -
SHOW_UPLOAD: Final = "show_upload"  # -
SIGN_IN_START: Final = "sign_in_start"  # mac
SIGN_IN_APPROVE: Final = "sign_in_approve"  # mac; input: account
SIGN_IN_CANCEL: Final = "sign_in_cancel"  # mac
SIGN_OUT_REQUEST: Final = "sign_out_request"  # mac
SIGN_OUT_CONFIRM: Final = "sign_out_confirm"  # mac
SIGN_OUT_CANCEL: Final = "sign_out_cancel"  # mac
SWITCH_ACCOUNT_CONFIRM: Final = "switch_account_confirm"  # mac, account
SWITCH_ACCOUNT_CANCEL: Final = "switch_account_cancel"  # mac
SHOW_STATUS: Final = "show_status"  # mac
SHOW_FIRMWARE: Final = "show_firmware"  # -

ALL_ACTIONS: Final[frozenset[str]] = frozenset({
    SHOW_HELP, SHOW_ADD_FORM, ADD_DEVICE, LIST_DEVICES, ISSUE_CODE, ISSUE_ALL_CODES,
    SHOW_CODES, REMOVE_REQUEST, REMOVE_CONFIRM, REMOVE_CANCEL, EXPORT, TEMPLATE,
    SHOW_UPLOAD, SIGN_IN_START, SIGN_IN_APPROVE, SIGN_IN_CANCEL, SHOW_STATUS, SHOW_FIRMWARE,
    SIGN_OUT_REQUEST, SIGN_OUT_CONFIRM, SIGN_OUT_CANCEL, SWITCH_ACCOUNT_CONFIRM, SWITCH_ACCOUNT_CANCEL,
})

# Ids of the inputs whose values the client merges into a submit's `value`.
INPUT_MAC: Final = "mac"
INPUT_LOCATION: Final = "location"
INPUT_ACCOUNT: Final = "account"

# Device-list tabs, as typed after `list` / `export` and sent in `tab`.
TAB_WAITING: Final = "waiting"
TAB_SIGNIN: Final = "signin"
TAB_SIGNEDIN: Final = "signedin"
TAB_ALL: Final = "all"
TABS: Final[tuple[str, ...]] = (TAB_WAITING, TAB_SIGNIN, TAB_SIGNEDIN, TAB_ALL)
EXPORT_TABS: Final[tuple[str, ...]] = (TAB_WAITING, TAB_SIGNIN, TAB_ALL)
