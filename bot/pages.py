"""The bot's own web pages, linked from its Teams app manifest: about, privacy and terms.

Short static HTML that says plainly what the bot stores and where; nothing in them comes
from a request.
"""
from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

ABOUT_PATH = "/about"
PRIVACY_PATH = "/privacy"
TERMS_PATH = "/terms"

_STYLE = ("body{font-family:'Segoe UI',system-ui,sans-serif;max-width:42rem;margin:2rem auto;"
          "padding:0 1rem;line-height:1.5;color:#242424}h1{font-size:1.5rem}h2{font-size:1.1rem}")


def _page(title: str, body: str) -> str:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title><style>{_STYLE}</style></head>\n<body>\n<h1>{title}</h1>\n{body}\n"
            f'<p><a href="{ABOUT_PATH}">About</a> · <a href="{PRIVACY_PATH}">Privacy</a> · '
            f'<a href="{TERMS_PATH}">Terms of use</a></p>\n</body></html>\n')


ABOUT = _page("Device Provisioning bot", """\
<p>A Microsoft Teams bot for IT administrators: it provisions Teams Android devices
(phones, panels, Teams Rooms on Android) and signs them in remotely, from a chat.
Admins add devices by MAC ID and location, issue one-time verification codes for the
field technician, and approve each device's sign-in.</p>
<p>To use it, open a chat with the bot in Teams and type <code>help</code>. Only the
administrators your organization named may run its commands.</p>
<p>This bot is run by your organization's IT department, on a server it chose. For help,
ask them.</p>""")

PRIVACY = _page("Privacy", """\
<p>This bot is run by your organization, not by Microsoft or a third party. Everything it
stores stays on the server that runs it, in the data directory its operator configured
(one file per Microsoft 365 tenant, readable only by the bot's service account).</p>
<h2>What it stores</h2>
<ul>
<li><b>Devices</b>: each device's MAC ID, the location an admin gave it, its state, the model,
manufacturer and firmware version the device reported, the account it was signed in
with, and a short history of what happened to it.</li>
<li><b>Verification codes</b>: each device's current one-time code, until it is used or
replaced. Device tokens are stored only as a hash.</li>
<li><b>An audit log</b>: for every change, when it happened, who made it (the admin's Teams
user id and name, or the device's MAC ID) and what changed. It never holds a
verification code, sign-in code or token.</li>
<li><b>Where to report back</b>: the Teams conversation in which a code was issued, so the
bot can say there when that device is provisioned or signed in.</li>
</ul>
<h2>What it does not keep</h2>
<ul>
<li>Uploaded CSV files are read and discarded; only the devices added from them are kept.</li>
<li>Exported files are sent to you through Teams (into your OneDrive) or held in the bot's
memory behind a download link that expires after one hour.</li>
<li>Its service log (kept wherever the operator sends it) records which commands were run
and by whom, errors, and the network address of a device that gives a wrong code; never a
verification code or token.</li>
</ul>
<p>The bot sends data nowhere but to Microsoft Teams, to answer you. To have data corrected
or removed, ask your IT administrators: they can remove a device with the bot's
<code>remove</code> command, and control the data directory.</p>""")

TERMS = _page("Terms of use", """\
<p>This bot is provided by your organization's IT department for its administrators, to
provision and sign in devices the organization manages. Use it only for that, and only
with devices and accounts you are authorized to manage.</p>
<p>Your organization's own policies on acceptable use of IT systems apply. The software is
provided as is, without warranty of any kind. For questions, ask your IT administrators.</p>""")


def add_page_routes(router: web.UrlDispatcher) -> None:
    """`GET /about`, `/privacy` and `/terms`, the pages the Teams app manifest links to."""
    for path, html in ((ABOUT_PATH, ABOUT), (PRIVACY_PATH, PRIVACY), (TERMS_PATH, TERMS)):
        router.add_get(path, _serve(html))


def _serve(html: str) -> Handler:
    body = html.encode("utf-8")

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "public, max-age=3600"})

    return handler
