"""Settings of the Hyperliquid adapter: credentials from the environment, tunables from options.

``SPARKSTACKER_HYPERLIQUID_PRIVATE_KEY`` is the key of an **agent (API) wallet** approved by the
master account; ``SPARKSTACKER_HYPERLIQUID_ACCOUNT_ADDRESS`` is the master account. The agent signs,
the master (or a sub-account / vault) is queried and traded. Credentials never come from instance
options or rule files, and never appear in a repr, a log line or an exception.

``api_url`` / ``ws_url`` (``SPARKSTACKER_HYPERLIQUID_API_URL`` / ``…_WS_URL``, or instance options
in ``--exchange-config``) point an instance at another endpoint than the network's: a local
node, or — in tests — a local exchange on 127.0.0.1 (tests/runtime/hl_exchange_server.py, which
the live-mode crash/restart tests trade through this adapter). ``ws_url`` defaults to
``api_url`` with a ``ws`` scheme and ``/ws``. Like every venue setting, never in rule files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sparkstacker.errors import ConfigError

ENV_PREFIX = "SPARKSTACKER_HYPERLIQUID_"
MAINNET_API_URL = "https://api.hyperliquid.xyz"
TESTNET_API_URL = "https://api.hyperliquid-testnet.xyz"
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")

CREDENTIAL_FIELDS = frozenset({"private_key", "account_address", "vault_address", "sub_accounts"})
MAIN_ACCOUNT = "main"


def _check_address(value: str | None, what: str) -> str | None:
    if value is None or value == "":
        return None
    if not _ADDRESS.match(value):
        raise ValueError(f"{what} must be a 0x-prefixed 40-hex-digit address")
    return value.lower()


class HyperliquidSettings(BaseSettings):
    """Everything one adapter instance needs; env prefix ``SPARKSTACKER_HYPERLIQUID_``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        hide_input_in_errors=True,
        frozen=True,
    )

    network: Literal["testnet", "mainnet"] = Field(
        default="testnet", description="testnet first; mainnet only when you mean it"
    )
    private_key: SecretStr | None = Field(
        default=None, description="Agent (API) wallet private key; signs L1 actions"
    )
    account_address: str | None = Field(
        default=None, description="Master account address (state is queried for this address)"
    )
    vault_address: str | None = Field(
        default=None, description="Vault or sub-account the 'main' account trades instead"
    )
    sub_accounts: dict[str, str] = Field(
        default_factory=dict,
        description='Named sub-accounts, JSON: {"hedge": "0x…"}; an instance option picks one',
    )
    account: str = Field(
        default=MAIN_ACCOUNT, description="Which account this instance trades: main or a name"
    )
    api_url: str | None = Field(
        default=None, description="Override the REST URL: a local node or test exchange (http[s])"
    )
    ws_url: str | None = Field(
        default=None, description="Override the websocket URL (ws[s]; default: from api_url)"
    )
    include_spot: bool = Field(default=False, description="Also load spot markets")
    streaming: bool = Field(default=True, description="Open the websocket on connect()")
    market_slippage: Decimal = Field(
        default=Decimal("0.01"), gt=0, lt=Decimal("0.5"), description="IOC bound for market orders"
    )
    request_timeout: float = Field(default=10.0, gt=0)
    order_expiry_seconds: float = Field(
        default=10.0,
        ge=2,
        description="expiresAfter on order actions; bounds how long an ambiguous order can land",
    )
    leverage_recheck_seconds: float = Field(
        default=30.0, ge=0, description="Re-read venue leverage before opening when older"
    )
    max_retries: int = Field(default=4, ge=1, le=10)
    ping_interval: float = Field(default=50.0, gt=0, lt=60, description="Websocket ping period")

    @field_validator("account_address", "vault_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return _check_address(value, "address")

    @field_validator("api_url", "ws_url")
    @classmethod
    def _url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or value == "":
            return None
        schemes = ("http://", "https://") if info.field_name == "api_url" else ("ws://", "wss://")
        if not value.startswith(schemes):
            raise ValueError(f"must start with {' or '.join(schemes)}, got {value[:40]!r}")
        return value

    @field_validator("sub_accounts")
    @classmethod
    def _sub_accounts(cls, value: dict[str, str]) -> dict[str, str]:
        checked: dict[str, str] = {}
        for name, address in value.items():
            if not name or name == MAIN_ACCOUNT:
                raise ValueError(f"sub-account name {name!r} is reserved or empty")
            checked[name] = _check_address(address, f"sub-account {name!r}") or ""
        return checked

    @field_validator("private_key")
    @classmethod
    def _key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not _KEY.match(value.get_secret_value()):
            # Never echo the value: say what is wrong with its shape only.
            raise ValueError("private key must be 64 hex digits (optionally 0x-prefixed)")
        return value

    # ---- derived ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self.api_url:
            return self.api_url.rstrip("/")
        return MAINNET_API_URL if self.network == "mainnet" else TESTNET_API_URL

    @property
    def websocket_url(self) -> str:
        if self.ws_url:
            return self.ws_url
        return "ws" + self.base_url[len("http") :] + "/ws"

    @property
    def is_mainnet(self) -> bool:
        return self.base_url == MAINNET_API_URL

    @property
    def trading_address(self) -> str | None:
        """The address whose positions this instance trades (master, vault or sub-account)."""
        if self.account == MAIN_ACCOUNT:
            return self.vault_address or self.account_address
        return self.sub_accounts.get(self.account)

    @property
    def signing_vault(self) -> str | None:
        """``vaultAddress`` put on signed actions (None when trading the master account)."""
        if self.account == MAIN_ACCOUNT:
            return self.vault_address
        return self.sub_accounts.get(self.account)

    def __repr__(self) -> str:
        return (
            f"HyperliquidSettings(network={self.network!r}, account={self.account!r}, "
            f"address={self.trading_address!r}, private_key={'set' if self.private_key else None})"
        )

    __str__ = __repr__


def load_settings(instance_name: str, options: Mapping[str, Any]) -> HyperliquidSettings:
    """Environment settings overlaid with an instance's options (credentials are refused there).

    ``hyperliquid.hedge`` defaults to the sub-account named ``hedge`` unless ``account`` is given.
    """
    options = dict(options)
    credentials = sorted(CREDENTIAL_FIELDS & set(options))
    if credentials:
        raise ConfigError(
            f"exchange instance {instance_name!r}: {', '.join(credentials)} must come from the "
            f"environment ({', '.join(ENV_PREFIX + c.upper() for c in credentials)}), never from "
            "options or rule files"
        )
    known = set(HyperliquidSettings.model_fields) - CREDENTIAL_FIELDS
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(
            f"exchange instance {instance_name!r}: unknown option(s) {', '.join(unknown)}; "
            f"known options are {', '.join(sorted(known))}"
        )
    if "account" not in options and "." in instance_name:
        options["account"] = instance_name.split(".", 1)[1]
    try:
        settings = HyperliquidSettings(**options)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            problems.append(f"{ENV_PREFIX}{where.upper()}: {error['msg']}")
        raise ConfigError(
            f"exchange instance {instance_name!r}: invalid settings: " + "; ".join(problems)
        ) from None
    if settings.account != MAIN_ACCOUNT and settings.account not in settings.sub_accounts:
        raise ConfigError(
            f"exchange instance {instance_name!r} trades account {settings.account!r}, but "
            f"{ENV_PREFIX}SUB_ACCOUNTS has no address for it; set e.g. "
            f'{ENV_PREFIX}SUB_ACCOUNTS=\'{{"{settings.account}": "0x…"}}\''
        )
    return settings
