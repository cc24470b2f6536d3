"""Secrets never reach a log file: planted keys are emitted every way we know, then grepped for."""

from __future__ import annotations

import logging
import secrets as pysecrets
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr
from sparkstacker.errors import ExchangeError
from sparkstacker.model import OrderEventKind, OrderStatus
from sparkstacker.observe import REDACTED, OrderLogPlugin, register_secret, scrub, setup_logging
from sparkstacker.observe.secrets import (
    clear_registered_secrets,
    refresh_secrets,
    register_model_secrets,
)


@pytest.fixture(autouse=True)
def _forget_registered():
    yield
    clear_registered_secrets()
    refresh_secrets()


def _sign(key: str) -> None:
    raise ExchangeError(f"signing failed with key {key}", venue="hyperliquid")


def _connect(secret: str) -> None:
    try:
        raise ConnectionError(f"auth header api_secret={secret} refused")
    except ConnectionError as exc:
        raise RuntimeError("could not log in") from exc


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_planted_secrets_never_reach_any_log_file(
    fmt, tmp_path, monkeypatch, capfd, lifecycle, manager
):
    key_hex = pysecrets.token_hex(32)
    eth_key = "0x" + key_hex
    api_secret = "cb-" + pysecrets.token_urlsafe(24)
    password = "pw-" + pysecrets.token_urlsafe(12)
    bearer = pysecrets.token_urlsafe(30)
    monkeypatch.setenv("SPARKSTACKER_HYPERLIQUID_PRIVATE_KEY", eth_key)
    monkeypatch.setenv("COINBASE_API_SECRET", api_secret)
    register_secret(SecretStr(password))
    log_dir = tmp_path / "_logs"

    files = setup_logging(log_dir, fmt=fmt, level="DEBUG", console=True, max_bytes=0)
    try:
        log = logging.getLogger("sparkstacker.engine")
        plugin_log = logging.getLogger("sparkstacker_plugins.exchanges.hyperliquid")
        # 1. in the message itself, with and without 0x, upper case too
        log.info(f"loaded key {eth_key} (bare {key_hex}, upper {key_hex.upper()})")
        # 2. as %-args, including a dict argument
        log.warning("credentials %s / %s", api_secret, password)
        plugin_log.info("config %s", {"private_key": eth_key, "note": "ok"})
        # 3. an exception with a traceback, and a chained one
        try:
            _sign(eth_key)
        except ExchangeError:
            log.exception("order loop crashed")
        try:
            _connect(api_secret)
        except RuntimeError:
            plugin_log.error("login failed", exc_info=True, stack_info=True)
        # 4. extra fields (shown by the JSON format), nested too
        log.info("extra", extra={"api_secret": api_secret, "nested": {"k": eth_key}})
        # 5. an HTTP header and a key=value pair that no environment variable names
        plugin_log.debug(f"GET /info Authorization: Bearer {bearer}")
        plugin_log.debug("request body password=hunter2-longer&user=me")
        # 6. orders.log: the key inside a rejection reason and an annotation
        pm = manager(OrderLogPlugin(files.orders))
        order = lifecycle()
        order.order = order.order.annotate(signer=eth_key)
        pm.hook.on_order_event(event=order.intent())
        pm.hook.on_order_event(
            event=order.move(
                OrderStatus.REJECTED,
                OrderEventKind.REJECTED,
                reason=f"venue said: bad signature from {eth_key}; secret {password}",
            )
        )
        # 7. markets.log extra fields and balance.log (numbers only, still scrubbed)
        files.markets.write(
            venue="hyperliquid", symbol="ETH-USD", mid=Decimal("1"), extra={"debug": api_secret}
        )
    finally:
        files.close()

    captured = capfd.readouterr()
    planted = [eth_key, key_hex, key_hex.upper(), api_secret, password, bearer, "hunter2-longer"]
    every_file = sorted(p for p in log_dir.rglob("*") if p.is_file())
    assert {p.name for p in every_file} == {
        "spark_stacker.log",
        "orders.log",
        "balance.log",
        "markets.log",
    }
    for path in every_file:
        text = path.read_text(encoding="utf-8")
        for secret in planted:
            assert secret not in text, f"{secret[:6]}… leaked into {path.name}"
            assert secret.lower() not in text.lower()
    for stream in (captured.err, captured.out):
        for secret in planted:
            assert secret not in stream

    main = (log_dir / "spark_stacker.log").read_text()
    assert main.count(REDACTED) >= 10
    assert f"signing failed with key {REDACTED}" in main
    assert "Traceback (most recent call last)" in main
    assert "ConnectionError: auth header api_secret=" + REDACTED in main
    assert f"Bearer {REDACTED}" in main
    assert f"password={REDACTED}&user=me" in main
    assert REDACTED in captured.err
    orders = (log_dir / "orders.log").read_text()
    assert f"bad signature from {REDACTED}; secret {REDACTED}" in orders
    assert orders.count(REDACTED) >= 3  # annotation twice, reason once at least
    assert REDACTED in (log_dir / "markets.log").read_text()


def test_registered_secret_from_a_settings_model():
    class VenueSettings(BaseModel):
        api_key: SecretStr
        passphrase: SecretStr | None = None
        label: str = "main"

    secret = "k-" + pysecrets.token_urlsafe(16)
    count = register_model_secrets(VenueSettings(api_key=SecretStr(secret)))
    assert count == 1
    assert scrub(f"using {secret} for main") == f"using {REDACTED} for main"


def test_environment_secrets_follow_the_environment(monkeypatch):
    value = "tok-" + pysecrets.token_urlsafe(16)
    text = f"connected with {value}"
    refresh_secrets()
    assert scrub(text) == text  # not planted yet: nothing to hide
    monkeypatch.setenv("MY_SERVICE_TOKEN", value)
    refresh_secrets()
    assert scrub(text) == f"connected with {REDACTED}"
    monkeypatch.delenv("MY_SERVICE_TOKEN")
    refresh_secrets()
    assert scrub(text) == text


def test_short_or_innocent_environment_values_are_left_alone(monkeypatch):
    monkeypatch.setenv("FEATURE_TOKEN", "on")  # too short to be a secret worth redacting
    monkeypatch.setenv("SPARKSTACKER_LOG_LEVEL", "WARNING")  # name does not look secret
    refresh_secrets()
    assert scrub("switch on at WARNING") == "switch on at WARNING"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("addr 0x" + "a1" * 20 + " stays", "addr 0x" + "a1" * 20 + " stays"),
        ("key 0x" + "a1" * 32 + ".", f"key {REDACTED}."),
        ("hash 0x" + "a1" * 33 + " is longer", "hash 0x" + "a1" * 33 + " is longer"),
        ("Authorization: bearer abcdefgh12345678", f"Authorization: bearer {REDACTED}"),
        ('{"api_key": "abc123", "size": "1"}', f'{{"api_key": "{REDACTED}", "size": "1"}}'),
        ("{'passphrase': 'xyz'}", f"{{'passphrase': '{REDACTED}'}}"),
        (
            "SPARKSTACKER_X_PRIVATE_KEY: Field required",
            "SPARKSTACKER_X_PRIVATE_KEY: Field required",
        ),
        (
            "jwt eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4eHh4In0.c2lnbmF0dXJlX2J5dGVz end",
            f"jwt {REDACTED} end",
        ),
        (
            "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----\nnext",
            f"{REDACTED}\nnext",
        ),
        ("price 2500.5 size 0.4", "price 2500.5 size 0.4"),
        (
            "db postgresql://trader:s3cr3t-pw@127.0.0.1:5432/journal",
            f"db postgresql://trader:{REDACTED}@127.0.0.1:5432/journal",
        ),
        (
            "db postgresql://postgres@127.0.0.1:5432/test",
            "db postgresql://postgres@127.0.0.1:5432/test",
        ),
    ],
)
def test_scrub_patterns(text, expected):
    assert scrub(text) == expected


def test_scrub_walks_structures_and_keeps_numbers():
    key = "0x" + "b2" * 32
    value = {"a": [key, 3, Decimal("1.5"), None, True], "b": (key,), "c": SecretStr("x")}
    assert scrub(value) == {
        "a": [REDACTED, 3, Decimal("1.5"), None, True],
        "b": [REDACTED],
        "c": REDACTED,
    }


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_SECRET = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=8, max_size=40
)


@settings(max_examples=200, deadline=None)
@given(prefix=_TEXT, secret=_SECRET, suffix=_TEXT)
def test_a_registered_secret_never_survives_scrubbing(prefix, secret, suffix):
    register_secret(secret)
    try:
        cleaned = scrub(prefix + secret + suffix)
        assert secret not in cleaned
        assert scrub(cleaned) == cleaned  # idempotent: scrubbing twice changes nothing
    finally:
        clear_registered_secrets()


@settings(max_examples=200, deadline=None)
@given(text=_TEXT)
def test_scrub_never_fails_and_is_idempotent(text):
    once = scrub(text)
    assert isinstance(once, str)
    assert scrub(once) == once


def test_unformattable_log_call_is_logged_not_raised(tmp_path: Path):
    with setup_logging(tmp_path, fmt="text", level="INFO") as files:
        logging.getLogger("sparkstacker").info("two %s %s", "only-one")
        text = files.main_path.read_text()
    assert "could not format" in text
    assert "only-one" in text
