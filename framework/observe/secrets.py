"""Secret scrubbing: one ``scrub`` function and a logging filter that applies it everywhere.

What is redacted (replaced by :data:`REDACTED`):

* the values of environment variables whose names look secret (``…KEY``, ``…SECRET``,
  ``…TOKEN``, ``…PASSWORD``, ``…PASSPHRASE``, anything containing ``PRIVATE``, ``SECRET``,
  ``PASSWORD`` or ``MNEMONIC`` — so every ``SPARKSTACKER_*_PRIVATE_KEY``);
* every value passed to :func:`register_secret` (a ``SecretStr`` or a plain string), and every
  ``SecretStr`` field of a settings model passed to :func:`register_model_secrets`;
* Ethereum private keys (``0x`` + 64 hex digits), PEM private-key blocks, JWTs, the credential
  after ``Bearer``/``Basic``, the password in ``scheme://user:password@host`` URLs, and the
  value after a secret-looking key in ``key=value`` or ``"key": "value"`` text.

The environment is re-read by :func:`refresh_secrets` (``setup_logging`` calls it) and at most
once a second otherwise, so scrubbing stays cheap on hot paths.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

REDACTED = "[REDACTED]"
ENV_REFRESH_SECONDS = 1.0
MIN_ENV_SECRET_LENGTH = 6

SECRET_ENV_NAME = re.compile(
    r"(KEY|SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE)$|PRIVATE|SECRET|PASSWORD|MNEMONIC",
    re.IGNORECASE,
)

_KEYWORDS = ("secret", "passw", "passphrase", "private", "api_key", "api-key", "apikey", "token")
_KEY_NAME = r"[\w.-]*(?:secret|password|passwd|passphrase|private[_-]?key|api[_-]?key|token)[\w-]*"

STANDARD_RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


@dataclass(frozen=True)
class _Rule:
    """One redaction: runs only when a trigger (lower case) occurs in the lower-cased text.

    The triggers keep scrubbing cheap: ordinary log lines contain none of them, so most lines
    cost one ``lower()`` and one search for all triggers at once.
    """

    triggers: tuple[str, ...]
    pattern: re.Pattern[str]
    keep_prefix: bool = False

    def apply(self, text: str) -> str:
        if self.keep_prefix:
            return self.pattern.sub(lambda m: m.group(1) + REDACTED, text)
        return self.pattern.sub(REDACTED, text)


_STATIC_RULES = (
    _Rule(
        ("-----begin",),
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?-----END [A-Z0-9 ]*PRIVATE KEY-----", re.S
        ),
    ),
    _Rule(
        ("bearer", "basic"),
        re.compile(r"(\b(?:bearer|basic)\s+)[A-Za-z0-9\-._~+/]{8,}=*", re.IGNORECASE),
        keep_prefix=True,
    ),
    _Rule(("0x",), re.compile(r"(?<![0-9A-Za-z])0x[0-9a-fA-F]{64}(?![0-9A-Za-z])")),
    _Rule(("://",), re.compile(r"(://[^/\s:@]+:)(?!\[REDACTED\])[^/\s@]+(?=@)"), keep_prefix=True),
    _Rule(("eyj",), re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    _Rule(
        _KEYWORDS,
        re.compile(
            rf"((?i:\b{_KEY_NAME})(?:\s*=\s*[\"']?|[\"']\s*:\s*[\"']?))"
            r"(?![\"'\s{]|\[REDACTED\])[^\s\"',;}&]+"
        ),
        keep_prefix=True,
    ),
)

_HEX = re.compile(r"(?:0[xX])?([0-9a-fA-F]{16,})")


def _literal_rule(value: str) -> _Rule:
    """A rule for one secret: hex keys match with or without ``0x`` and in any letter case."""
    stripped = value.strip() or value
    hex_match = _HEX.fullmatch(stripped)
    if hex_match:
        core = hex_match.group(1)
        return _Rule((core.lower(),), re.compile(rf"(?:0x)?{core}", re.IGNORECASE))
    variants = sorted({value, stripped}, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(v) for v in variants))
    return _Rule(tuple(v.lower() for v in variants), pattern)


class _SecretSet:
    """The current secrets as redaction rules (thread-safe; rebuilt when secrets change)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._registered: set[str] = set()
        self._env: frozenset[str] = frozenset()
        self._env_checked = float("-inf")
        self._rules: tuple[_Rule, ...] = _STATIC_RULES
        self._any_trigger = _trigger_pattern(self._rules)

    def register(self, value: str) -> None:
        if not value:
            return
        with self._lock:
            if value in self._registered:
                return
            self._registered.add(value)
            self._build()

    def clear_registered(self) -> None:
        with self._lock:
            self._registered.clear()
            self._build()

    def refresh(self, environ: Mapping[str, str] | None = None) -> None:
        found = frozenset(_secret_env_values(os.environ if environ is None else environ))
        with self._lock:
            self._env_checked = time.monotonic()
            if found != self._env:
                self._env = found
                self._build()

    def current(self) -> tuple[re.Pattern[str], tuple[_Rule, ...]]:
        """A pattern finding any rule's trigger, and the rules (re-reading env if due)."""
        if time.monotonic() - self._env_checked > ENV_REFRESH_SECONDS:
            self.refresh()
        return self._any_trigger, self._rules

    def _build(self) -> None:
        ordered = sorted(self._registered | self._env, key=len, reverse=True)
        rules = (*(_literal_rule(value) for value in ordered), *_STATIC_RULES)
        self._any_trigger = _trigger_pattern(rules)
        self._rules = rules


def _trigger_pattern(rules: Iterable[_Rule]) -> re.Pattern[str]:
    triggers = sorted({t for rule in rules for t in rule.triggers}, key=len, reverse=True)
    return re.compile("|".join(re.escape(t) for t in triggers))


def _secret_env_values(environ: Mapping[str, str]) -> Iterable[str]:
    for name, value in environ.items():
        if len(value) >= MIN_ENV_SECRET_LENGTH and SECRET_ENV_NAME.search(name):
            yield value


_SECRETS = _SecretSet()


def scrub_text(text: str) -> str:
    """``text`` with every known secret replaced by :data:`REDACTED`."""
    lowered = text.lower()
    any_trigger, rules = _SECRETS.current()
    if any_trigger.search(lowered) is None:
        return text
    for rule in rules:
        if any(trigger in lowered for trigger in rule.triggers):
            cleaned = rule.apply(text)
            if cleaned != text:
                text = cleaned
                lowered = text.lower()
    return text


def scrub(value: Any) -> Any:
    """Redact secrets in a string, or recursively in dicts, lists and tuples.

    Numbers, booleans, ``None``, Decimals and enums pass unchanged; ``SecretStr``/``SecretBytes``
    become :data:`REDACTED`; any other object becomes its scrubbed ``str()``.
    """
    if isinstance(value, str):
        return scrub_text(value)
    if value is None or isinstance(value, bool | int | float | Decimal | Enum):
        return value
    if isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if isinstance(value, Mapping):
        return {key: scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub(item) for item in value]
    if isinstance(value, bytes):
        return scrub_text(value.decode("utf-8", errors="replace"))
    return scrub_text(str(value))


def register_secret(secret: str | SecretStr | SecretBytes | None) -> None:
    """Redact this value from every log line from now on (empty or ``None`` is ignored)."""
    if secret is None:
        return
    if isinstance(secret, SecretStr):
        _SECRETS.register(secret.get_secret_value())
    elif isinstance(secret, SecretBytes):
        _SECRETS.register(secret.get_secret_value().decode("utf-8", errors="replace"))
    else:
        _SECRETS.register(secret)


def register_model_secrets(model: BaseModel) -> int:
    """Register every ``SecretStr``/``SecretBytes`` field of a settings model (nested too).

    Returns how many values were registered.
    """
    count = 0
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr | SecretBytes):
            register_secret(value)
            count += 1
        elif isinstance(value, BaseModel):
            count += register_model_secrets(value)
    return count


def clear_registered_secrets() -> None:
    """Forget values passed to :func:`register_secret` (environment secrets stay)."""
    _SECRETS.clear_registered()


def refresh_secrets(environ: Mapping[str, str] | None = None) -> None:
    """Re-read secret-looking environment variables now (``environ`` defaults to os.environ)."""
    _SECRETS.refresh(environ)


class SecretFilter(logging.Filter):
    """Scrub a record's message, args, extra fields, exception text and stack before emitting.

    The record is changed in place, so every handler after this one sees the clean version.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError) as exc:
            message = f"{record.msg!r} with args {record.args!r} (could not format: {exc})"
        record.msg = scrub_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub_text(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in STANDARD_RECORD_FIELDS:
                record.__dict__[key] = scrub(value)
        return True


_FORMATTER = logging.Formatter()


def install_scrubber(handler: logging.Handler) -> logging.Handler:
    """Add a :class:`SecretFilter` to ``handler`` (once) and return it."""
    if not any(isinstance(existing, SecretFilter) for existing in handler.filters):
        handler.addFilter(SecretFilter())
    return handler
