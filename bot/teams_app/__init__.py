"""The Teams app package `provisioning-bot teams-package` writes. So far: the icons drawn in
code (`icons`, over a small PNG writer in `png`).
"""
