"""The rules of remote provisioning for Teams Android devices.

This package knows nothing of botbuilder, aiohttp or the store: it holds MAC IDs,
verification codes, the firmware catalog, the device lifecycle and the service that
applies them through the `Repository` port (see `repository.py`).
"""
