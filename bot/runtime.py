"""What exists only while the app runs: the store and the services built on it."""
from __future__ import annotations

from dataclasses import dataclass

from bot.settings import Settings
from provisioning.clock import Clock
from provisioning.service import ProvisioningService
from storage import Store


@dataclass
class Runtime:
    settings: Settings
    store: Store
    service: ProvisioningService
    clock: Clock
