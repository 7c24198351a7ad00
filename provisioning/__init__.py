"""The rules of remote provisioning for Teams Android devices.

This package knows nothing of botbuilder, aiohttp or the store: it holds MAC IDs,
verification codes, the firmware catalog, the device lifecycle and the two services
that apply them through the `Repository` port (see `repository.py`): `service.py` for
the admin side, `device_service.py` for what a device asks.
"""
