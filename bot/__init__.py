"""The HTTP surfaces of provisioning-bot: the Bot Framework chat endpoint, the device API,
and the wiring that puts them on one aiohttp application."""
