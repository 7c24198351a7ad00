"""A Teams Android device, simulated: what a technician and the device would do.

`provisioning-bot device provision ...` enters a verification code like Settings >
Provision device, prints what the device's screen would show, then waits for the admin's
remote sign-in: it shows the user code, polls the token endpoint at the server's
interval (honouring `slow_down`) and reports the signed-in account. `device reset`
factory-resets it. The device token (and, once signed in, the session's access token)
is kept in a small state file between runs.

With `--stay` (or `device run` for a device already provisioned) it stays on like a real
device: while signed in it checks its session every interval; once the admin signs it out
or moves it to another account it says so and waits for the next sign-in. When a sign-in
code expires unused it asks for a new one (the device's "Refresh code").
"""
from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
Sleep = Callable[[float], Awaitable[None]]
Say = Callable[[str], None]
SESSION_CHECK_SECONDS = 5.0  # how often a signed-in device checks its session


class DeviceError(Exception):
    """What the device's screen shows when the bot refuses it."""


class SignInEnded(DeviceError):
    """A sign-in the device polled for ended unused: `error` is `expired_token` or `access_denied`."""

    def __init__(self, message: str, error: str) -> None:
        super().__init__(message)
        self.error = error


@dataclass(frozen=True)
class Device:
    url: str
    mac: str
    state_file: Path

    def endpoint(self, path: str) -> str:
        return f"{self.url.rstrip('/')}/api/devices/{path}"


def default_state_file(mac: str) -> Path:
    safe = "".join(ch for ch in mac.upper() if ch.isalnum())
    return Path(f".device-{safe}.json")


async def provision(device: Device, code: str, model: str, firmware: str, manufacturer: str | None,
                    say: Say = print, sleep: Sleep = asyncio.sleep, wait_seconds: float = 900,
                    stay: bool = False) -> str:
    """Provision, wait for the sign-in, return the signed-in account. With `stay`, keep
    running as `run` does (it returns only if the bot refuses the device)."""
    body: dict[str, Any] = {"mac": device.mac, "verification_code": code, "model": model, "firmware_version": firmware}
    if manufacturer:
        body["manufacturer"] = manufacturer
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        answer = await _call(http, "POST", device.endpoint("provision"), json=body)
        token = answer["device_token"]
        _save_token(device.state_file, device.mac, token)
        say(f"[screen] Provisioned for {answer['tenant_name']}. Waiting for your admin to sign this device in...")
        if stay:
            await _stay_on(http, device, token, None, say, sleep)
        account, _ = await _sign_in(http, device, token, say, sleep, wait_seconds)
        return account


async def run(device: Device, say: Say = print, sleep: Sleep = asyncio.sleep) -> None:
    """A provisioned device (its state file) left on: checks its session while signed in,
    and after a sign-out or an account change waits for the next sign-in. Runs until stopped."""
    token = _load_token(device.state_file, device.mac)
    access_token = _load_access_token(device.state_file)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        me = await _call(http, "GET", device.endpoint("me"), headers=_bearer(token))
        if me.get("state") == "signed_in":
            if access_token is None:
                raise DeviceError(f"Signed in as {me.get('account')}, but no session token is saved in "
                                  f"{device.state_file}; sign the device out from the chat and run again.")
            say(f"[screen] Signed in as {me.get('account')}.")
        else:
            access_token = None
            say(f"[screen] {me.get('tenant_name')}: waiting for your admin to sign this device in...")
        await _stay_on(http, device, token, access_token, say, sleep)


async def reset(device: Device, say: Say = print) -> None:
    token = _load_token(device.state_file, device.mac)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        await _call(http, "POST", device.endpoint("factory-reset"), headers=_bearer(token))
    device.state_file.unlink(missing_ok=True)
    say("[screen] Factory reset done. The device can be provisioned again with a new code.")


async def _stay_on(http: aiohttp.ClientSession, device: Device, token: str, access_token: str | None, say: Say,
                  sleep: Sleep) -> None:
    while True:
        if access_token is not None:
            await _watch_session(http, device, access_token, sleep)
            _save_token(device.state_file, device.mac, token)
            say("[screen] Signed out by your admin. Waiting for the next sign-in...")
        _, access_token = await _sign_in(http, device, token, say, sleep, None, refresh=True)


async def _sign_in(http: aiohttp.ClientSession, device: Device, token: str, say: Say, sleep: Sleep,
                   wait_seconds: float | None, refresh: bool = False) -> tuple[str, str]:
    """Wait for a sign-in, show its code, poll it: (account, access token). With `refresh`, a code
    that expires unused is followed by a new one the device asks for, and a cancelled one by
    waiting for the next."""
    while True:
        grant = await _wait_for_grant(http, device, token, sleep, wait_seconds)
        say(f"[screen] To sign in, your admin confirms this code: {grant['user_code']} "
            f"(expires in {grant['expires_in'] // 60} min)")
        try:
            account, access_token = await _poll(http, device, token, grant, say, sleep)
        except SignInEnded as ended:
            if not refresh:
                raise
            say(f"[screen] {ended}")
            if ended.error == "expired_token":
                await _refresh_code(http, device, token, say)
            continue
        _save_token(device.state_file, device.mac, token, access_token)
        say(f"[screen] Signed in as {account}.")
        return account, access_token


async def _refresh_code(http: aiohttp.ClientSession, device: Device, token: str, say: Say) -> None:
    """The device's "Refresh code": ask for a new sign-in code (the admin gets its card)."""
    async with http.post(device.endpoint("signin"), headers=_bearer(token)) as response:
        answer = await _json(response)
    if response.status == 200:
        say("[screen] Refresh code: a new code was asked for.")
    else:
        say(f"[screen] Refresh code refused: {answer.get('message') or answer.get('error')}")


async def _watch_session(http: aiohttp.ClientSession, device: Device, access_token: str, sleep: Sleep) -> None:
    """Check the session every few seconds; return once the bot says it ended (401)."""
    while True:
        await sleep(SESSION_CHECK_SECONDS)
        async with http.get(device.endpoint("session"), headers=_bearer(access_token)) as response:
            answer = await _json(response)
        if response.status == 401:
            return
        if response.status != 200:
            raise DeviceError(f"{answer.get('message') or 'The session check failed.'} "
                              f"({answer.get('error', response.status)})")


async def _wait_for_grant(http: aiohttp.ClientSession, device: Device, token: str, sleep: Sleep,
                          wait_seconds: float | None) -> dict[str, Any]:
    waited = 0.0
    while True:
        me = await _call(http, "GET", device.endpoint("me"), headers=_bearer(token))
        if me.get("sign_in"):
            return me["sign_in"]
        if me.get("state") == "signed_in":
            raise DeviceError(f"Already signed in as {me.get('account')}.")
        if wait_seconds is not None and waited >= wait_seconds:
            raise DeviceError("No sign-in was started; run the simulator again once the admin starts one.")
        await sleep(5)
        waited += 5


async def _poll(http: aiohttp.ClientSession, device: Device, token: str, grant: dict[str, Any], say: Say,
                sleep: Sleep) -> tuple[str, str]:
    interval = float(grant.get("interval") or 5)
    form = {"grant_type": GRANT_TYPE, "device_code": grant["device_code"]}
    while True:
        await sleep(interval)
        async with http.post(device.endpoint("token"), data=form, headers=_bearer(token)) as response:
            answer = await _json(response)
        if response.status == 200:
            return str(answer["account"]), str(answer["access_token"])
        error = answer.get("error")
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval = float(answer.get("interval") or interval + 5)
            say(f"[device] asked to slow down: polling every {interval:g} s")
            continue
        if error in ("expired_token", "access_denied"):
            raise SignInEnded(answer.get("message") or str(error), str(error))
        raise DeviceError(answer.get("message") or str(error))


async def _call(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    async with http.request(method, url, **kwargs) as response:
        answer = await _json(response)
        if response.status != 200:
            message = answer.get("message") or "The bot refused the request."
            raise DeviceError(f"{message} ({answer.get('error', response.status)})")
        return answer


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        data = await response.json(content_type=None)
    except (json.JSONDecodeError, aiohttp.ContentTypeError):
        data = None
    return data if isinstance(data, dict) else {"error": f"http_{response.status}"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _save_token(path: Path, mac: str, token: str, access_token: str | None = None) -> None:
    # The tokens are credentials: readable by their owner only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    state = {"mac": mac, "device_token": token}
    if access_token is not None:
        state["access_token"] = access_token
    with os.fdopen(fd, "w") as file:
        json.dump(state, file)


def _load_token(path: Path, mac: str) -> str:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        raise DeviceError(f"No provisioned device state in {path}; provision the device first.") from None
    if not isinstance(data, dict) or not isinstance(data.get("device_token"), str):
        raise DeviceError(f"{path} does not hold a device token; provision the device again.")
    return data["device_token"]


def _load_access_token(path: Path) -> str | None:
    """The signed-in session's access token the state file holds, if any."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    token = data.get("access_token") if isinstance(data, dict) else None
    return token if isinstance(token, str) else None
