"""Shared test fixtures: a fake clock and the repository root."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from provisioning.clock import FakeClock

REPO_ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)
