"""A Teams Android device, simulated: what a technician and the device would do.

`provisioning-bot device provision ...` enters a verification code like Settings >
Provision device, prints what the device's screen would show, then waits for the admin's
remote sign-in: it shows the user code, polls the token endpoint at the server's
interval (honouring `slow_down`) and reports the signed-in account. `device reset`
factory-resets it. The device token is kept in a small state file between the two.
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


class DeviceError(Exception):
    """What the device's screen shows when the bot refuses it."""


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
                    say: Say = print, sleep: Sleep = asyncio.sleep, wait_seconds: float = 900) -> str:
    """Provision, wait for the sign-in, return the signed-in account."""
    body: dict[str, Any] = {"mac": device.mac, "verification_code": code, "model": model, "firmware_version": firmware}
    if manufacturer:
        body["manufacturer"] = manufacturer
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        answer = await _call(http, "POST", device.endpoint("provision"), json=body)
        token = answer["device_token"]
        _save_token(device.state_file, device.mac, token)
        say(f"[screen] Provisioned for {answer['tenant_name']}. Waiting for your admin to sign this device in...")
        grant = await _wait_for_grant(http, device, token, sleep, wait_seconds)
        say(f"[screen] To sign in, your admin confirms this code: {grant['user_code']} "
            f"(expires in {grant['expires_in'] // 60} min)")
        account = await _poll(http, device, token, grant, say, sleep)
        say(f"[screen] Signed in as {account}.")
        return account


async def reset(device: Device, say: Say = print) -> None:
    token = _load_token(device.state_file, device.mac)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        await _call(http, "POST", device.endpoint("factory-reset"), headers=_bearer(token))
    device.state_file.unlink(missing_ok=True)
    say("[screen] Factory reset done. The device can be provisioned again with a new code.")


async def _wait_for_grant(http: aiohttp.ClientSession, device: Device, token: str, sleep: Sleep,
                          wait_seconds: float) -> dict[str, Any]:
    waited = 0.0
    while True:
        me = await _call(http, "GET", device.endpoint("me"), headers=_bearer(token))
        if me.get("sign_in"):
            return me["sign_in"]
        if me.get("state") == "signed_in":
            raise DeviceError(f"Already signed in as {me.get('account')}.")
        if waited >= wait_seconds:
            raise DeviceError("No sign-in was started; run the simulator again once the admin starts one.")
        await sleep(5)
        waited += 5


async def _poll(http: aiohttp.ClientSession, device: Device, token: str, grant: dict[str, Any], say: Say,
                sleep: Sleep) -> str:
    interval = float(grant.get("interval") or 5)
    form = {"grant_type": GRANT_TYPE, "device_code": grant["device_code"]}
    while True:
        await sleep(interval)
        async with http.post(device.endpoint("token"), data=form, headers=_bearer(token)) as response:
            answer = await _json(response)
        if response.status == 200:
            return str(answer["account"])
        error = answer.get("error")
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval = float(answer.get("interval") or interval + 5)
            say(f"[device] asked to slow down: polling every {interval:g} s")
            continue
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


def _save_token(path: Path, mac: str, token: str) -> None:
    # The token is a credential: readable by its owner only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump({"mac": mac, "device_token": token}, file)


def _load_token(path: Path, mac: str) -> str:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        raise DeviceError(f"No provisioned device state in {path}; provision the device first.") from None
    if not isinstance(data, dict) or not isinstance(data.get("device_token"), str):
        raise DeviceError(f"{path} does not hold a device token; provision the device again.")
    return data["device_token"]
