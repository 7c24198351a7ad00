"""Service settings, read from environment variables and validated at start-up.

A bad value stops the service with a `SettingsError` that names the variable and says
what it should look like; nothing reads the environment after start-up.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from storage.postgres.dsn import BadDsn, database_url

APP_TYPES = ("MultiTenant", "SingleTenant", "UserAssignedMSI")
DEFAULT_DOWNLOAD_HOSTS = (
    "*.sharepoint.com",
    "*.sharepoint-df.com",
    "*.files.1drv.com",
    "*.svc.ms",
    "smba.trafficmanager.net",
    "*.botframework.com",
)


class SettingsError(ValueError):
    """An environment variable with a value the service cannot use."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 3978
    data_dir: Path = Path("./data")
    database_url: str = field(default="", repr=False)  # PostgreSQL; empty: the TinyDB files in data_dir
    public_url: str = "http://127.0.0.1:3978"
    tenant_name: str = "Contoso"
    admins: frozenset[str] = frozenset()
    app_id: str = ""
    app_password: str = field(default="", repr=False)
    app_type: str = "MultiTenant"
    app_tenant_id: str = ""
    catalog_file: Path | None = None
    code_ttl_hours: float = 24.0
    device_rate_limit: int = 60
    max_upload_bytes: int = 5 * 1024 * 1024
    download_hosts: tuple[str, ...] = DEFAULT_DOWNLOAD_HOSTS
    log_level: str = "INFO"
    allow_unauthenticated: bool = False  # listen beyond loopback with no app id (everyone is an admin)
    notify_retry_seconds: tuple[float, ...] = (2.0, 10.0, 60.0, 300.0)  # not from env: tests shorten it
    notice_interval_seconds: float = 2.0  # least time between two notice messages to one conversation
    notice_give_up_hours: float = 24.0  # a conversation failing this long has its notices dropped (error log)
    notice_gather_seconds: float = 0.3  # not from env: a first notice waits this long for company
    outbound_timeout_seconds: float = 20.0  # one connector call, waiting for a slot included
    outbound_per_host: int = 16  # connector calls in flight to one host
    outbound_total: int = 64  # connector calls in flight overall

    @property
    def auth_enabled(self) -> bool:
        """With no app id the Bot Framework checks no tokens: local Emulator use only."""
        return bool(self.app_id)

    def is_admin(self, *user_ids: str | None) -> bool:
        if not self.admins:
            return not self.auth_enabled
        return any(uid in self.admins for uid in user_ids if uid)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        host = _text(env, "HOST", cls.host)
        _check_host(host)
        port = _integer(env, "PORT", cls.port, low=1, high=65535)
        app_type = _text(env, "MicrosoftAppType", cls.app_type) or cls.app_type
        if app_type not in APP_TYPES:
            raise SettingsError("MicrosoftAppType", f"must be one of {', '.join(APP_TYPES)}, not {app_type!r}")
        app_id = _text(env, "MicrosoftAppId", "")
        app_tenant_id = _text(env, "MicrosoftAppTenantId", "")
        if app_type == "SingleTenant" and app_id and not app_tenant_id:
            raise SettingsError("MicrosoftAppTenantId", "is required when MicrosoftAppType is SingleTenant")
        allow_unauthenticated = _flag(env, "ALLOW_UNAUTHENTICATED")
        if not app_id and not allow_unauthenticated and not _is_loopback(host):
            raise SettingsError(
                "HOST", f"is {host!r}, beyond this machine, but no MicrosoftAppId is set: authentication would be "
                "off and anyone who reaches the port would be an admin of every tenant. Set MicrosoftAppId (and "
                "MicrosoftAppPassword), listen on 127.0.0.1, or set ALLOW_UNAUTHENTICATED=true if that is "
                "really what you want (an isolated test network)")
        catalog = _text(env, "FIRMWARE_CATALOG", "")
        if catalog and not Path(catalog).is_file():
            raise SettingsError("FIRMWARE_CATALOG", f"no such file: {catalog}")
        return cls(
            host=host,
            port=port,
            data_dir=Path(_text(env, "PROVISIONING_DATA", str(cls.data_dir)) or str(cls.data_dir)),
            database_url=_database_url(env),
            public_url=_public_url(env, host, port),
            tenant_name=_text(env, "TENANT_NAME", cls.tenant_name) or cls.tenant_name,
            admins=frozenset(a.strip() for a in env.get("ADMINS", "").split(",") if a.strip()),
            app_id=app_id,
            app_password=env.get("MicrosoftAppPassword", ""),
            app_type=app_type,
            app_tenant_id=app_tenant_id,
            catalog_file=Path(catalog) if catalog else None,
            code_ttl_hours=_number(env, "CODE_TTL_HOURS", cls.code_ttl_hours, low=0.01, high=24 * 30),
            device_rate_limit=_integer(env, "DEVICE_RATE_LIMIT", cls.device_rate_limit, low=1, high=100_000),
            max_upload_bytes=_integer(env, "MAX_UPLOAD_BYTES", cls.max_upload_bytes, low=1024, high=100 * 1024 * 1024),
            download_hosts=_hosts(env, "DOWNLOAD_HOSTS", cls.download_hosts),
            log_level=_log_level(env),
            allow_unauthenticated=allow_unauthenticated,
            notice_interval_seconds=_number(env, "NOTICE_INTERVAL_SECONDS", cls.notice_interval_seconds,
                                            low=2, high=3600),
            notice_give_up_hours=_number(env, "NOTICE_GIVE_UP_HOURS", cls.notice_give_up_hours, low=0.1, high=24 * 30),
            outbound_timeout_seconds=_number(env, "OUTBOUND_TIMEOUT_SECONDS", cls.outbound_timeout_seconds,
                                             low=1, high=300),
            outbound_per_host=_integer(env, "OUTBOUND_PER_HOST", cls.outbound_per_host, low=1, high=1000),
            outbound_total=_integer(env, "OUTBOUND_TOTAL", cls.outbound_total, low=1, high=10_000),
        )


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, default).strip()
    if any(ord(ch) < 32 for ch in value):
        raise SettingsError(name, "contains control characters")
    return value


def _integer(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(name, f"must be between {low} and {high}, not {value}")
    return value


def _number(env: Mapping[str, str], name: str, default: float, *, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(name, f"must be a number, not {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(name, f"must be between {low} and {high}, not {value}")
    return value


def _database_url(env: Mapping[str, str]) -> str:
    raw = _text(env, "DATABASE_URL", "")
    if not raw:
        return ""
    try:
        return database_url(raw)
    except BadDsn as bad:
        raise SettingsError("DATABASE_URL", f"{bad}, e.g. postgresql://user:pass@host:5432/db or "
                            "host=db dbname=bot user=bot (or unset for the embedded store in PROVISIONING_DATA)"
                            ) from None


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise SettingsError(name, f"must be true or false, not {raw!r}")


def _is_loopback(host: str) -> bool:
    """Only this machine can reach the address (a name other than localhost may resolve anywhere)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_host(host: str) -> None:
    if not host:
        raise SettingsError("HOST", "must not be empty (use 127.0.0.1 or 0.0.0.0)")
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    labels = host.split(".")
    if not all(label and label.replace("-", "").isalnum() for label in labels):
        raise SettingsError("HOST", f"must be an IP address or host name, not {host!r}")


def _public_url(env: Mapping[str, str], host: str, port: int) -> str:
    raw = env.get("PUBLIC_URL", "").strip()
    if not raw:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        return f"http://{shown}:{port}"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingsError("PUBLIC_URL", f"must be an http(s) base URL like https://bot.example.com, not {raw!r}")
    return raw.rstrip("/")


def _hosts(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    hosts = tuple(h.strip().lower() for h in raw.split(",") if h.strip())
    for h in hosts:
        bare = h[2:] if h.startswith("*.") else h
        if not bare or "/" in bare or ":" in bare or "*" in bare:
            raise SettingsError(name, f"entries must be host names or *.domain patterns, not {h!r}")
    return hosts


def _log_level(env: Mapping[str, str]) -> str:
    level = env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError("LOG_LEVEL", f"must be DEBUG, INFO, WARNING or ERROR, not {level!r}")
    return level
