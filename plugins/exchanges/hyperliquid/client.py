"""The SDK behind an async, rate-limited, retrying client.

``hyperliquid-python-sdk`` is synchronous (requests) and fetches meta over the network in its
constructors unless given ``meta``/``spot_meta``. This client fetches meta once itself, then builds
``Info`` (``skip_ws=True``) and ``Exchange`` **offline** from it, runs every call in a worker thread
behind the shared :class:`WeightLimiter`, and turns transport failures into typed errors:

* HTTP 429 → :class:`RateLimited` (retried with backoff, counted in ``throttled_total``);
* HTTP 5xx, timeouts, dropped connections → :class:`VenueConnectionError` with
  ``maybe_delivered`` (an order after such a failure is looked up by cloid before any re-send);
* other 4xx → :class:`ExchangeError`; a 200 that is not JSON → :class:`ExchangeFormatError`.

Signed actions from one agent key are serialised through a process-wide :class:`NonceGuard`,
because the SDK uses the millisecond clock as nonce and two actions in the same millisecond from
one signer collide (``hyperliquid`` and ``hyperliquid.hedge`` usually share an agent key). The
guard reads the clock once per action: that reading is both the nonce the SDK signs (its
``get_timestamp_ms`` is pinned to it for the call) and the base of ``expiresAfter``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sparkstacker.errors import (
    ConfigError,
    ExchangeError,
    ExchangeFormatError,
    RateLimited,
    RetryableExchangeError,
)
from sparkstacker_plugins.exchanges.hyperliquid.clock import AdapterClock
from sparkstacker_plugins.exchanges.hyperliquid.rate_limit import (
    WeightLimiter,
    action_weight,
    info_extra_weight,
    info_weight,
)
from sparkstacker_plugins.exchanges.hyperliquid.retry import RetryPolicy
from sparkstacker_plugins.exchanges.hyperliquid.schemas import VENUE
from sparkstacker_plugins.exchanges.hyperliquid.settings import ENV_PREFIX, HyperliquidSettings
from sparkstacker_plugins.exchanges.hyperliquid.venue_errors import (
    ACTION_ERRORS,
    Reaction,
    VenueConnectionError,
    lookup,
)

log = logging.getLogger(__name__)
EMPTY_SPOT_META: dict[str, Any] = {"universe": [], "tokens": []}
_CONNECT_FAILURES = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "NameResolutionError",
    "Failed to resolve",
    "refused",
)


def endpoint_name(url_path: str, payload: Any) -> str:
    """``/info`` + ``{"type": "l2Book"}`` → ``l2Book``; ``/exchange`` → ``exchange:order``."""
    if isinstance(payload, dict):
        if url_path.endswith("/exchange"):
            action = payload.get("action")
            kind = action.get("type") if isinstance(action, dict) else None
            return f"exchange:{kind or '?'}"
        kind = payload.get("type")
        if isinstance(kind, str):
            return kind
    return url_path


class TypedPost:
    """Replaces ``hyperliquid.api.API.post``: typed errors instead of SDK exceptions/KeyErrors.

    The SDK's own ``post`` raises ``KeyError('code')`` on a JSON 4xx body without ``code`` and
    returns ``{"error": "Could not parse JSON…"}`` for a non-JSON 200; neither may reach the
    adapter's parsers.
    """

    base_url: str
    session: Any
    timeout: float | None

    def post(self, url_path: str, payload: Any = None) -> Any:
        import requests

        payload = payload or {}
        endpoint = endpoint_name(url_path, payload)
        try:
            response = self.session.post(
                self.base_url + url_path, json=payload, timeout=self.timeout
            )
        except requests.ConnectTimeout as exc:
            raise VenueConnectionError(
                f"{endpoint}: could not connect ({type(exc).__name__}: {str(exc)[:300]})",
                maybe_delivered=False,
                venue=VENUE,
            ) from None
        except requests.Timeout as exc:
            raise VenueConnectionError(
                f"{endpoint}: no answer in time ({type(exc).__name__})",
                maybe_delivered=True,
                venue=VENUE,
            ) from None
        except requests.ConnectionError as exc:
            text = str(exc)
            delivered = not any(marker in text for marker in _CONNECT_FAILURES)
            raise VenueConnectionError(
                f"{endpoint}: connection failed ({type(exc).__name__}: {text[:300]})",
                maybe_delivered=delivered,
                venue=VENUE,
            ) from None
        status = response.status_code
        body = response.text
        if status == 429:
            raise RateLimited(f"{endpoint}: HTTP 429 {body[:200]}", venue=VENUE)
        if status >= 500:
            raise VenueConnectionError(
                f"{endpoint}: HTTP {status} {body[:200]}", maybe_delivered=True, venue=VENUE
            )
        if status >= 400:
            raise ExchangeError(f"{endpoint}: HTTP {status} {body[:300]}", venue=VENUE)
        try:
            return response.json()
        except ValueError:
            raise ExchangeFormatError(
                endpoint, "", f"body is not JSON: {body[:80]!r}", venue=VENUE
            ) from None


@dataclass(frozen=True)
class Sdk:
    Info: Any
    Exchange: Any
    Cloid: Any
    Account: Any


@cache
def sdk() -> Sdk:
    """Import the SDK lazily (≈0.4 s) and derive the typed-post classes once."""
    import eth_account
    import hyperliquid.exchange
    from hyperliquid.exchange import Exchange
    from hyperliquid.info import Info
    from hyperliquid.utils.types import Cloid

    class TypedInfo(TypedPost, Info):
        pass

    class TypedExchange(TypedPost, Exchange):
        pass

    hyperliquid.exchange.get_timestamp_ms = _nonce_ms  # the SDK's nonce: pinned per action
    return Sdk(Info=TypedInfo, Exchange=TypedExchange, Cloid=Cloid, Account=eth_account.Account)


def _wall_ms() -> int:
    return int(time.time() * 1000)


_PINNED = threading.local()


def _nonce_ms() -> int:
    """The nonce the running action's guard read, else (outside a guard) the wall clock."""
    pinned: int | None = getattr(_PINNED, "nonce", None)
    return _wall_ms() if pinned is None else pinned


class NonceGuard:
    """Serialises one signer's actions so no two get the same millisecond nonce."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0

    def run(self, exchange: Any, call: Callable[[Any], Any], expires_ms: int | None) -> Any:
        with self._lock:
            nonce = _wall_ms()
            while nonce <= self._last_ms:
                time.sleep(0.0005)
                nonce = _wall_ms()
            exchange.set_expires_after(None if expires_ms is None else nonce + expires_ms)
            _PINNED.nonce = nonce
            try:
                return call(exchange)
            finally:
                _PINNED.nonce = None
                self._last_ms = nonce


_GUARDS: dict[str, NonceGuard] = {}
_GUARDS_LOCK = threading.Lock()


def nonce_guard_for(signer: str) -> NonceGuard:
    with _GUARDS_LOCK:
        return _GUARDS.setdefault(signer.lower(), NonceGuard())


class HyperliquidClient:
    """Rate-limited async access to ``/info`` and signed ``/exchange`` actions via the SDK."""

    def __init__(
        self,
        settings: HyperliquidSettings,
        *,
        limiter: WeightLimiter,
        clock: AdapterClock,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.limiter = limiter
        self.clock = clock
        self.retry = retry or RetryPolicy(attempts=settings.max_retries)
        self._info: Any = None
        self._exchange: Any = None
        self._meta: dict[str, Any] | None = None
        self._spot_meta: dict[str, Any] = EMPTY_SPOT_META
        self.requests_total = 0

    # ---- construction ------------------------------------------------------------------------

    def _bare_info(self) -> Any:
        """An Info that knows no markets yet, built without touching the network."""
        return sdk().Info(
            self.settings.base_url,
            skip_ws=True,
            meta={"universe": []},
            spot_meta=EMPTY_SPOT_META,
            timeout=self.settings.request_timeout,
        )

    def bind(self, meta: dict[str, Any], spot_meta: dict[str, Any] | None) -> dict[str, int]:
        """Build the SDK's Info offline from validated meta; returns its coin → asset map."""
        self._meta = meta
        self._spot_meta = spot_meta or EMPTY_SPOT_META
        self._info = sdk().Info(
            self.settings.base_url,
            skip_ws=True,
            meta=meta,
            spot_meta=self._spot_meta,
            timeout=self.settings.request_timeout,
        )
        self._exchange = None
        return dict(self._info.coin_to_asset)

    @property
    def bound(self) -> bool:
        return self._info is not None

    def signer_address(self) -> str:
        return str(self._exchange_sdk().wallet.address)

    def _exchange_sdk(self) -> Any:
        if self._exchange is not None:
            return self._exchange
        if self._meta is None:
            raise ExchangeError("markets are not loaded; call connect() first", venue=VENUE)
        key = self.settings.private_key
        if key is None:
            raise ConfigError(
                f"{ENV_PREFIX}PRIVATE_KEY is not set: trading needs an agent (API) wallet key "
                "(see docs/exchanges/hyperliquid.md)"
            )
        if self.settings.account_address is None:
            raise ConfigError(
                f"{ENV_PREFIX}ACCOUNT_ADDRESS is not set: the master account the agent trades for"
            )
        try:
            wallet = sdk().Account.from_key(key.get_secret_value())
        except (ValueError, TypeError):
            raise ConfigError(f"{ENV_PREFIX}PRIVATE_KEY is not a valid private key") from None
        self._exchange = sdk().Exchange(
            wallet,
            self.settings.base_url,
            meta=self._meta,
            vault_address=self.settings.signing_vault,
            account_address=self.settings.account_address,
            spot_meta=self._spot_meta,
            timeout=self.settings.request_timeout,
        )
        return self._exchange

    # ---- calls -------------------------------------------------------------------------------

    async def fetch_meta(self) -> Any:
        """``meta`` for the first (default) perp dex."""
        info = self._info or self._bare_info()
        return await self._info_call("meta", lambda i: i.meta(), info)

    async def fetch_spot(self) -> Any:
        """``spotMetaAndAssetCtxs``: spot pairs, tokens and their contexts in one request."""
        info = self._info or self._bare_info()
        return await self._info_call(
            "spotMetaAndAssetCtxs", lambda i: i.spot_meta_and_asset_ctxs(), info
        )

    async def info(self, request_type: str, call: Callable[[Any], Any]) -> Any:
        """Run ``call(info)`` (an SDK ``Info`` method) with weight, retries and typed errors."""
        if self._info is None:
            raise ExchangeError("markets are not loaded; call connect() first", venue=VENUE)
        return await self._info_call(request_type, call, self._info)

    async def post_info(self, payload: dict[str, Any]) -> Any:
        """A raw ``/info`` request for types the SDK has no wrapper for (``activeAssetData``)."""
        return await self.info(str(payload["type"]), lambda info: info.post("/info", payload))

    async def _info_call(self, request_type: str, call: Callable[[Any], Any], info: Any) -> Any:
        async def attempt() -> Any:
            try:
                result = await asyncio.to_thread(call, info)
            except RateLimited:
                self.limiter.record_throttle()
                raise
            self.limiter.charge(info_extra_weight(request_type, result))
            return result

        return await self._retrying(request_type, info_weight(request_type), attempt)

    async def action(
        self,
        action_type: str,
        call: Callable[[Any], Any],
        *,
        batch: int = 1,
        retry_ambiguous: bool = True,
        expires_ms: int | None = None,
    ) -> Any:
        """Run a signed action. Rate limits are retried; ambiguous failures only when
        ``retry_ambiguous`` (idempotent actions: cancel, leverage) — orders handle them by cloid."""
        exchange = self._exchange_sdk()
        guard = nonce_guard_for(str(exchange.wallet.address))

        async def attempt() -> Any:
            try:
                result = await asyncio.to_thread(guard.run, exchange, call, expires_ms)
            except RateLimited:
                self.limiter.record_throttle()
                raise
            if _is_rate_limit_answer(result):
                self.limiter.record_throttle(drain=False)
                raise RateLimited(f"{action_type}: {result['response']}", venue=VENUE)
            return result

        def final(exc: RetryableExchangeError) -> bool:
            return (
                isinstance(exc, VenueConnectionError)
                and exc.maybe_delivered
                and not retry_ambiguous
            )

        return await self._retrying(
            f"action {action_type}", action_weight(batch), attempt, final=final
        )

    async def _retrying(
        self,
        what: str,
        weight: int,
        attempt: Callable[[], Awaitable[Any]],
        *,
        final: Callable[[RetryableExchangeError], bool] = lambda exc: False,
    ) -> Any:
        """Take ``weight`` from the limiter, then run ``attempt``. A retryable failure is logged
        and retried with backoff, unless ``final`` says it surfaces at once; the last is raised."""
        last: RetryableExchangeError | None = None
        for number in range(1, self.retry.attempts + 1):
            await self.limiter.acquire(weight)
            self.requests_total += 1
            try:
                return await attempt()
            except RetryableExchangeError as exc:
                if final(exc):
                    raise
                last = exc
            log.warning(
                "hyperliquid %s failed (attempt %d/%d): %s", what, number, self.retry.attempts, last
            )
            if number < self.retry.attempts:
                await self.clock.sleep(self.retry.delay(number))
        assert last is not None
        raise last

    def cloid(self, raw: str) -> Any:
        return sdk().Cloid.from_str(raw)


def _is_rate_limit_answer(result: Any) -> bool:
    if not isinstance(result, dict) or result.get("status") != "err":
        return False
    text = result.get("response")
    if not isinstance(text, str):
        return False
    info = lookup(text, ACTION_ERRORS)
    return info is not None and info.reaction is Reaction.RATE_LIMIT
