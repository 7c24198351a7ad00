"""Bot Framework adapter wiring that does not pay botbuilder's per-turn tax.

Stock `CloudAdapter.process_activity` builds a fresh msrest `ConnectorClient` and a
`UserTokenClient` for every incoming activity; each construction costs milliseconds
(msrest's `ClientRetryPolicy`), most of a turn's CPU. `ReusingAuthentication` wraps the
real authentication so that connector clients are cached per (app id, service URL,
audience) and the user-token client is only built if a turn actually asks for it.

With that gone, msrest and copying were most of what was left (profiled on a `help`
turn with `expectReplies`); `FastRepliesAdapter` uses the shortcuts in `msrest_fast.py`.
What goes over the wire is unchanged: the same clients, credentials, requests and
bodies (tests/bot/test_adapter_fast_paths.py compares them with msrest's). Given an
`OutboundHttp`, every client the factory builds sends through it: aiohttp on the event
loop with timeouts, bounded concurrency and a retry for stale connections (`outbound.py`).
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from types import SimpleNamespace
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)
from botbuilder.schema import Activity, DeliveryModes
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)

from bot.botframework.msrest_fast import CardSharingTurnContext, expected_replies_body
from bot.botframework.outbound import OutboundHttp
from bot.settings import Settings

log = logging.getLogger(__name__)

CONNECTOR_CACHE_SIZE = 64  # service URLs come from activities: bound what they can make us hold


class _CachingConnectorFactory(ConnectorFactory):
    """Hands out one `ConnectorClient` per (service URL, audience), built on first use."""

    def __init__(self, inner: ConnectorFactory, cache: OrderedDict[tuple[str, str, str], ConnectorClient],
                 app_id: str, outbound: OutboundHttp | None = None) -> None:
        self._inner = inner
        self._cache = cache
        self._app_id = app_id
        self._outbound = outbound

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        key = (self._app_id, service_url or "", audience or "")
        client = self._cache.get(key)
        if client is None:
            client = await self._inner.create(service_url, audience)
            if self._outbound is not None:
                self._outbound.adopt(client)
            self._cache[key] = client
            if len(self._cache) > CONNECTOR_CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return client


class _LazyUserTokenClient(UserTokenClient):
    """Builds the real user-token client only when a method is first called."""

    def __init__(self, build: Callable[[], Awaitable[UserTokenClient]]) -> None:
        self._build = build
        self._client: UserTokenClient | None = None

    async def _real(self) -> UserTokenClient:
        if self._client is None:
            self._client = await self._build()
        return self._client

    async def get_user_token(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._real()).get_user_token(*args, **kwargs)

    async def get_sign_in_resource(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._real()).get_sign_in_resource(*args, **kwargs)

    async def sign_out_user(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._real()).sign_out_user(*args, **kwargs)

    async def get_token_status(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._real()).get_token_status(*args, **kwargs)

    async def get_aad_tokens(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._real()).get_aad_tokens(*args, **kwargs)

    async def exchange_token(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._real()).exchange_token(*args, **kwargs)


class ReusingAuthentication(BotFrameworkAuthentication):
    """Delegates every check to the real authentication; reuses what it may."""

    def __init__(self, inner: BotFrameworkAuthentication, outbound: OutboundHttp | None = None) -> None:
        self._inner = inner
        self._outbound = outbound
        self._connectors: OrderedDict[tuple[str, str, str], ConnectorClient] = OrderedDict()

    def _wrap(self, factory: ConnectorFactory | None, claims: ClaimsIdentity | None) -> ConnectorFactory | None:
        if factory is None:
            return None
        app_id = _app_id(claims)
        return _CachingConnectorFactory(factory, self._connectors, app_id, self._outbound)

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        result = await self._inner.authenticate_request(activity, auth_header)
        result.connector_factory = self._wrap(result.connector_factory, result.claims_identity)
        return result

    async def authenticate_streaming_request(self, auth_header: str,
                                             channel_id_header: str) -> AuthenticateRequestResult:
        return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return self._wrap(self._inner.create_connector_factory(claims_identity), claims_identity)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        return _LazyUserTokenClient(lambda: self._inner.create_user_token_client(claims_identity))

    def create_bot_framework_client(self) -> Any:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return self._inner.get_originating_audience()

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)


def _app_id(claims: ClaimsIdentity | None) -> str:
    if claims is None or not claims.claims:
        return ""
    return str(claims.claims.get("aud") or claims.claims.get("appid") or claims.claims.get("azp") or "")


def bot_framework_authentication(settings: Settings,
                                 outbound: OutboundHttp | None = None) -> BotFrameworkAuthentication:
    """The stock configuration-driven authentication, wrapped for reuse."""
    configuration = SimpleNamespace(
        APP_ID=settings.app_id,
        APP_PASSWORD=settings.app_password,
        APP_TYPE=settings.app_type,
        APP_TENANTID=settings.app_tenant_id,
    )
    return ReusingAuthentication(ConfigurationBotFrameworkAuthentication(configuration), outbound)


class FastRepliesAdapter(CloudAdapter):
    """`CloudAdapter` whose turns share card dicts with their replies and serialize them directly."""

    def _create_turn_context(self, activity: Activity, claims_identity: ClaimsIdentity, oauth_scope: str,
                             connector_client: ConnectorClient, user_token_client: UserTokenClient,
                             logic: Callable[[TurnContext], Awaitable[Any]],
                             connector_factory: ConnectorFactory) -> TurnContext:
        # The same turn state as CloudAdapterBase._create_turn_context, on our context class.
        context = CardSharingTurnContext(self, activity)
        context.turn_state[self.BOT_IDENTITY_KEY] = claims_identity
        context.turn_state[self.BOT_CONNECTOR_CLIENT_KEY] = connector_client
        context.turn_state[self.USER_TOKEN_CLIENT_KEY] = user_token_client
        context.turn_state[self.BOT_CALLBACK_HANDLER_KEY] = logic
        context.turn_state[self.CONNECTOR_FACTORY_KEY] = connector_factory
        context.turn_state[self.BOT_OAUTH_SCOPE_KEY] = oauth_scope
        return context

    def _process_turn_results(self, context: TurnContext) -> InvokeResponse | None:
        if context.activity.delivery_mode == DeliveryModes.expect_replies:
            return InvokeResponse(status=HTTPStatus.OK, body=expected_replies_body(context.buffered_reply_activities))
        return super()._process_turn_results(context)


def create_adapter(settings: Settings, on_error: Callable[[TurnContext, Exception], Awaitable[None]],
                   outbound: OutboundHttp | None = None) -> CloudAdapter:
    adapter = FastRepliesAdapter(bot_framework_authentication(settings, outbound))
    adapter.on_turn_error = on_error
    return adapter
