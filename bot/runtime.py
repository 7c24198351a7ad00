"""What exists only while the app runs: the store and the services built on it."""
from __future__ import annotations

from dataclasses import dataclass, field

from bot.files.downloads import DownloadStore
from bot.notifications import Notifier
from bot.rate_limit import RateLimiter
from bot.settings import Settings
from provisioning.clock import Clock
from provisioning.device_service import DeviceService
from provisioning.firmware import Catalog
from provisioning.service import ProvisioningService
from storage import Store


@dataclass
class Runtime:
    settings: Settings
    store: Store
    service: ProvisioningService  # the admin side
    devices: DeviceService  # the device side (the device API)
    catalog: Catalog
    clock: Clock
    notifier: Notifier
    device_limiter: RateLimiter
    downloads: DownloadStore = field(default_factory=DownloadStore)  # files behind download links
