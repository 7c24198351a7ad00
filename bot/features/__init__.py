"""What the bot can do in chat, one module per task. Each feature class declares its
typed commands, card buttons and file handlers (see `bot.chat.interactions`) and is
built by the app with the services it uses.

To add a command or a card button: a method with `@command(...)` or `@card_action(...)`
in the feature it belongs to (new card actions are named in `cards.actions`). Help, the
gate's checks and Teams' command menu follow from the declaration.
"""
from __future__ import annotations

from bot.chat.interactions import Feature
from bot.features.codes import Codes
from bot.features.files import Files
from bot.features.help import Help
from bot.features.inventory import Inventory
from bot.features.signin import SignIn

# The order help lists them in.
FEATURES: tuple[type[Feature], ...] = (Inventory, Codes, SignIn, Files, Help)

__all__ = ["FEATURES", "Codes", "Files", "Help", "Inventory", "SignIn"]
