"""Adaptive Cards (schema 1.5) for the provisioning bot: pure functions from data to card JSON.

Every builder returns the card as a dict; the bot wraps it in an attachment with
contentType `application/vnd.microsoft.card.adaptive`. Cards use only Action.Submit (and
Action.OpenUrl for downloads); every submit's data is `{"action", "card_id", ...}` with the
action names in `cards.actions`. Nothing here handles a submit or imports botbuilder.
"""
from __future__ import annotations

from ._elements import MAX_CARD_BYTES
from .codes import CODE_ROWS_PER_PAGE, code_issued_card, codes_card, codes_issued_card
from .devices import (
                      DEVICE_ROWS_PER_PAGE,
                      add_device_form,
                      confirm_remove_card,
                      device_added_card,
                      device_status_card,
                      device_table_card,
                      summary_card,
)
from .files import IMPORT_ROWS_SHOWN, TEMPLATE_FILE_NAME, download_card, import_summary_card, upload_help_card
from .firmware import FIRMWARE_ROWS_SHOWN, firmware_catalog_card, firmware_check_card
from .general import command_help_card, error_card, help_card, progress_card, resolved_card, welcome_card
from .notices import DIGEST_MAX_DEVICES, device_digest_card, digest_summary
from .signin import UPN_INPUT_REGEX, confirm_sign_out_card, confirm_switch_card, sign_in_card
from .tabs import TAB_LABELS, TAB_STATES, tab_counts
from .views import CommandHelp, HelpGroup, RejectedRow

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"

__all__ = [
                      "CODE_ROWS_PER_PAGE",
                      "CONTENT_TYPE",
                      "DEVICE_ROWS_PER_PAGE",
                      "DIGEST_MAX_DEVICES",
                      "FIRMWARE_ROWS_SHOWN",
                      "IMPORT_ROWS_SHOWN",
                      "MAX_CARD_BYTES",
                      "TAB_LABELS",
                      "TAB_STATES",
                      "TEMPLATE_FILE_NAME",
                      "UPN_INPUT_REGEX",
                      "CommandHelp",
                      "HelpGroup",
                      "RejectedRow",
                      "add_device_form",
                      "code_issued_card",
                      "codes_card",
                      "codes_issued_card",
                      "command_help_card",
                      "confirm_remove_card",
                      "confirm_sign_out_card",
                      "confirm_switch_card",
                      "device_added_card",
                      "device_digest_card",
                      "device_status_card",
                      "device_table_card",
                      "digest_summary",
                      "download_card",
                      "error_card",
                      "firmware_catalog_card",
                      "firmware_check_card",
                      "help_card",
                      "import_summary_card",
                      "progress_card",
                      "resolved_card",
                      "sign_in_card",
                      "summary_card",
                      "tab_counts",
                      "upload_help_card",
                      "welcome_card",
]
