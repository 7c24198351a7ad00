"""The Teams app package `provisioning-bot teams-package` writes: the manifest generated from
the command declarations (`manifest`), the icons drawn in code (`icons`, over a small PNG
writer in `png`), and the checked inputs and the zip (`package`).
"""
