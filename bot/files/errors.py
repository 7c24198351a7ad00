"""Why a file was not taken: one exception whose message an admin can act on."""
from __future__ import annotations


class FileRefused(Exception):
    """A file the bot won't fetch, can't read, or won't import; `message` says why and
    what to do instead. Raised before anything is changed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
