"""Why a file was not taken: one refusal whose message an admin can act on."""
from __future__ import annotations

from bot.chat.interactions import Refused


class FileRefused(Refused):
    """A file the bot won't fetch, can't read, or won't import; `message` says why and
    what to do instead. Raised before anything is changed."""
