"""The device API's endpoints: what a Teams Android device calls during remote provisioning.

JSON over HTTP on the bot's own app. Errors are `{"error": code, "message": text}` where
the message is something a technician can act on. Token-endpoint answers follow RFC 8628
section 3.5. Nothing here logs a verification code or a token. The services commit each
device event's notice with the change (`provisioning/outbox.py`); a handler only wakes the
notice sender, which tells the admin (`bot/notices.py`).
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from bot.device_api.rate_limit import AttemptLimit
from bot.notices import Notifier
from provisioning.codes import format_user_code
from provisioning.device_service import DeviceService
from provisioning.devices import Device
from provisioning.errors import InvalidCode, InvalidRequest, ProvisioningError
from provisioning.repository import ConcurrentChange
from storage import StoreError

log = logging.getLogger(__name__)

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
MAX_BODY_BYTES = 16 * 1024
Handler = Callable[[web.Request], Awaitable[web.Response]]
SignInOffer = Callable[[Device], Awaitable[None]]  # shows the admin a sign-in the device asked for


def add_device_routes(router: web.UrlDispatcher, api: DeviceApi) -> None:
    router.add_post("/api/devices/provision", answer_failures(api.provision))
    router.add_get("/api/devices/me", answer_failures(api.me))
    router.add_post("/api/devices/token", answer_failures(api.token))
    router.add_post("/api/devices/factory-reset", answer_failures(api.factory_reset))
    router.add_get("/api/devices/session", answer_failures(api.session))
    router.add_post("/api/devices/signin", answer_failures(api.request_sign_in))
    router.add_get("/device", _verification_page)


def answer_failures(handler: Handler) -> Handler:
    """Handlers raise; this answers. A refusal is its own answer (`refusal_response`); a
    store that can't write (disk full, shutting down) is a 503 the device retries, not a 500.
    Anything else is a bug: its traceback is logged under an error id, and the device gets
    a 503 quoting that id (never the error itself), so no device request ends in a bare 500."""

    async def answered(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except ProvisioningError as refusal:
            return refusal_response(refusal)
        except (StoreError, ConcurrentChange) as failure:  # nothing was kept: the device asks again
            log.error("device API: %s failed: %s", request.path, type(failure).__name__)
            return error(503, "temporarily_unavailable", "The service can't save right now. Try again in a minute.",
                         headers={"Retry-After": "60"})
        except web.HTTPException:
            raise  # aiohttp's own answers (a body over the size limit...) are answers already
        except Exception:
            error_id = secrets.token_hex(4)
            log.exception("device API: %s failed unexpectedly (error id %s)", request.path, error_id)
            return error(503, "temporarily_unavailable",
                         f"Something went wrong on the service (error id {error_id}). Try again in a minute; "
                         "if it keeps happening, give your admin this error id.", headers={"Retry-After": "60"})

    return answered


def refusal_response(refusal: ProvisioningError) -> web.Response:
    """The device API's answer to any refusal: the status, code, fields and headers it carries."""
    return error(refusal.status, refusal.error, refusal.message, headers=refusal.response_headers(),
                 **refusal.response_fields())


class DeviceApi:
    """The endpoints' handlers, over the device-side service. They raise refusals;
    `answer_failures` turns each into its answer."""

    def __init__(self, devices: DeviceService, notices: Notifier, limiter: AttemptLimit, public_url: str,
                 sign_in_offer: SignInOffer | None = None) -> None:
        self._devices = devices
        self._notices = notices
        self._limiter = limiter
        self._public_url = public_url
        self._sign_in_offer = sign_in_offer

    async def provision(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if isinstance(body, web.Response):
            return body
        devices = self._devices
        # A malformed request is a 400 whatever the rate: parsed before it is counted.
        provision_request = devices.parse_request(body)
        wait = await self._limiter.check(request.remote or "unknown")
        if wait:
            log.warning("device API: rate limit hit by %s", request.remote)
            return error(429, "too_many_attempts", f"Too many attempts from this network. Wait {wait} s and try again.",
                         headers={"Retry-After": str(wait)})
        try:
            result = await devices.provision(provision_request)
        except InvalidCode as wrong:
            log.warning("device API: wrong verification code for %s from %s", provision_request.mac, request.remote)
            if wrong.locked_out:
                self._notices.wake()  # the lockout's notice was committed with it
            raise
        log.info("device API: %s provisioned in tenant %s", result.device.mac, result.tenant_id)
        self._notices.wake()
        return _json({"tenant_name": result.tenant_name, "device_token": result.device_token,
                      "state": result.device.state.value})

    async def me(self, request: web.Request) -> web.Response:
        view = self._devices.device_view(_bearer(request))
        grant = view.sign_in
        sign_in = None
        if grant is not None:
            base = self._public_url
            sign_in = {"device_code": grant.device_code, "user_code": format_user_code(grant.user_code),
                       "verification_uri": f"{base}/device", "expires_in": view.sign_in_expires_in,
                       "interval": grant.interval}
        device = view.device
        return _json({"mac": device.mac, "state": device.state.value, "tenant_name": view.tenant_name,
                      "account": device.account, "sign_in": sign_in})

    async def token(self, request: web.Request) -> web.Response:
        token = _bearer(request)
        form = await _form_or_json(request)
        if isinstance(form, web.Response):
            return form
        if form.get("grant_type") != DEVICE_CODE_GRANT:
            return error(400, "unsupported_grant_type", f"grant_type must be {DEVICE_CODE_GRANT}.")
        device_code = form.get("device_code")
        if not isinstance(device_code, str) or not device_code:
            raise InvalidRequest("device_code is required.")
        grant = await self._devices.poll_token(token, device_code)
        log.info("device API: %s signed in as %s", grant.device.mac, grant.account)
        self._notices.wake()
        return _json({"access_token": grant.access_token, "token_type": grant.token_type,
                      "expires_in": grant.expires_in, "account": grant.account})

    async def session(self, request: web.Request) -> web.Response:
        """The signed-in session an access token belongs to; 401 once it ended."""
        device = self._devices.session(_bearer(request))
        signed_in_at = device.signed_in_at.isoformat() if device.signed_in_at else None
        return _json({"mac": device.mac, "account": device.account, "signed_in_at": signed_in_at})

    async def request_sign_in(self, request: web.Request) -> web.Response:
        """The device's "Refresh code": a new grant, shown to the admin with its sign-in card."""
        token = _bearer(request)
        device = await self._devices.request_sign_in(token)
        grant = device.sign_in
        assert grant is not None  # the grant it just started
        sign_in = {"device_code": grant.device_code, "user_code": format_user_code(grant.user_code),
                   "verification_uri": f"{self._public_url}/device",
                   "expires_in": int((grant.expires_at - grant.started_at).total_seconds()),
                   "interval": grant.interval}
        log.info("device API: %s asked for a new sign-in code", device.mac)
        if self._sign_in_offer is not None:
            await self._sign_in_offer(device)
        return _json({"mac": device.mac, "state": device.state.value, "sign_in": sign_in})

    async def factory_reset(self, request: web.Request) -> web.Response:
        device = await self._devices.factory_reset(_bearer(request))
        log.info("device API: %s factory reset", device.mac)
        self._notices.wake()
        return _json({"mac": device.mac, "state": device.state.value})


VERIFICATION_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in a Teams device</title></head>
<body><h1>Sign in a Teams device</h1>
<p>This device is signed in remotely by your IT admin. The admin sees the same code as the one
on the device's screen in the provisioning bot's chat, checks that they match, and approves
the account there. There is nothing to enter on this page.</p></body></html>
"""


async def _verification_page(request: web.Request) -> web.Response:
    """The RFC 8628 verification_uri: here the admin verifies in chat, so it explains that."""
    return web.Response(text=VERIFICATION_PAGE, content_type="text/html")


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    # Device tokens are base64url and dots; anything else (undecodable bytes included) is not one.
    return token if scheme.lower() == "bearer" and token.isascii() and token.isprintable() else ""


async def _json_body(request: web.Request) -> dict[str, Any] | web.Response:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return error(413, "invalid_request", "The request body is too large.")
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        return error(413, "invalid_request", "The request body is too large.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return error(400, "invalid_request", "The body must be a JSON object.")
    if not isinstance(body, dict):
        return error(400, "invalid_request", "The body must be a JSON object.")
    return body


async def _form_or_json(request: web.Request) -> dict[str, Any] | web.Response:
    if request.content_type == "application/x-www-form-urlencoded":
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return error(413, "invalid_request", "The request body is too large.")
        try:
            form = await request.post()
        except (UnicodeError, ValueError):
            return error(400, "invalid_request", "The form body is not valid UTF-8 form data.")
        return {key: value for key, value in form.items() if isinstance(value, str)}
    return await _json_body(request)


def error(status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **extra: Any) -> web.Response:
    return _json({"error": code, "message": message, **extra}, status=status, headers=headers)


def _json(data: dict[str, Any], *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Tokens and grants must not be cached by anything in between (RFC 6749 section 5.1).
    all_headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})}
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json", headers=all_headers)
