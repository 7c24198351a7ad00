"""The Teams app manifest (schema 1.24), generated from the command declarations.

1.24 is the first manifest version whose bot command lists hold 12 commands (1.19 to 1.23
allow 10). The app's `id` is the bot's app id, as Microsoft's bot samples do: one GUID
names both the Teams app and its bot.

One bot in the `personal`, `team` and `groupChat` scopes, one command list per scope: the
commands a scope may run (the gate refuses the `secret` ones, which show verification codes,
outside one-to-one chats), first 12 by their declared `menu_rank`. The developer, privacy
and terms pages are the ones the bot serves itself (`bot.pages`) under the public URL.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from bot.chat.interactions import Command, Menu
from bot.pages import ABOUT_PATH, PRIVACY_PATH, TERMS_PATH
from bot.teams_app.icons import ACCENT

MANIFEST_VERSION = "1.24"
SCHEMA_URL = f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
MAX_COMMANDS = 12  # per command list, from manifest 1.24 on
SCOPES = ("personal", "team", "groupChat")
PRIVATE_SCOPES = frozenset({"personal"})  # one-to-one chats: where secrets may be shown
COLOR_ICON = "color.png"
OUTLINE_ICON = "outline.png"
DEFAULT_NAME = "Device Provisioning"
DEVELOPER = "provisioning-bot"
SHORT_DESCRIPTION = "Provision Teams Android devices and sign them in remotely, from a chat."
FULL_DESCRIPTION = (
    "Provision Teams Android devices (phones, panels, Teams Rooms on Android) from a chat "
    "instead of the Teams admin center. Add devices by MAC ID and location, one at a time or "
    "from a CSV file; issue one-time verification codes for the field technician; follow each "
    "device from activation to sign-in; and sign devices in remotely (device authorization "
    "grant). Verification codes are shown only in a personal chat with the bot. Type help "
    "for the commands."
)


def commands_for(menu: Menu, scope: str) -> list[Command]:
    """The commands a scope's list offers: those it may run, first `MAX_COMMANDS` by rank."""
    allowed = [c for c in menu if scope in PRIVATE_SCOPES or c.rules.secret is None]
    return sorted(allowed, key=lambda c: c.menu_rank)[:MAX_COMMANDS]


def full_name(name: str) -> str:
    long = f"{name} for Teams Android devices"
    return long if len(long) <= 100 else name


def build_manifest(*, app_id: str, public_url: str, name: str, version: str, menu: Menu) -> dict[str, Any]:
    """The manifest for the bot `app_id` reached at `public_url` (an https base URL, no slash at the end)."""
    host = urlsplit(public_url).hostname or ""
    return {
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": version,
        "id": app_id,
        "developer": {
            "name": DEVELOPER,
            "websiteUrl": public_url + ABOUT_PATH,
            "privacyUrl": public_url + PRIVACY_PATH,
            "termsOfUseUrl": public_url + TERMS_PATH,
        },
        "name": {"short": name, "full": full_name(name)},
        "description": {"short": SHORT_DESCRIPTION, "full": FULL_DESCRIPTION},
        "icons": {"color": COLOR_ICON, "outline": OUTLINE_ICON},
        "accentColor": ACCENT,
        "bots": [{
            "botId": app_id,
            "scopes": list(SCOPES),
            "supportsFiles": True,
            "isNotificationOnly": False,
            "commandLists": [
                {"scopes": [scope],
                 "commands": [{"title": c.name, "description": c.summary} for c in commands_for(menu, scope)]}
                for scope in SCOPES
            ],
        }],
        "validDomains": [host],
    }
