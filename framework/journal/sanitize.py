"""Turn free-form data into JSON the journal can store, dropping anything that looks secret.

A value is dropped when it is a pydantic ``SecretStr``/``SecretBytes``, when its key contains
one of :data:`SECRET_WORDS`, or when it is a string shaped like a raw private key (64 hex
digits). Dropped entries are listed by path (never by value) under ``"_redacted"`` so nothing
disappears silently.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr
from sparkstacker.errors import JournalError

log = logging.getLogger("sparkstacker.journal")

SECRET_WORDS = (
    "key",
    "secret",
    "token",
    "password",
    "passwd",
    "passphrase",
    "private",
    "mnemonic",
    "credential",
    "auth",
    "signature",
    "cookie",
)
REDACTED_FIELD = "_redacted"
_RAW_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


def looks_secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS)


def _looks_secret_value(value: Any) -> bool:
    if isinstance(value, SecretStr | SecretBytes):
        return True
    return isinstance(value, str) and bool(_RAW_KEY.match(value.strip()))


def clean_json(value: Any, *, where: str) -> Any:
    """A JSON-ready copy of ``value`` without secrets; mappings get a ``_redacted`` list."""
    redacted: list[str] = []
    cleaned = _clean(value, "", redacted, where)
    if redacted:
        log.warning("%s: dropped secret-looking entries %s", where, ", ".join(redacted))
        if isinstance(cleaned, dict):
            cleaned[REDACTED_FIELD] = sorted(redacted)
    return cleaned


def _clean(value: Any, path: str, redacted: list[str], where: str) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return _clean(value.value, path, redacted, where)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, BaseModel):
        return _clean(dict(value), path, redacted, where)
    if is_dataclass(value) and not isinstance(value, type):
        return _clean(asdict(value), path, redacted, where)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            child = f"{path}.{name}" if path else name
            if looks_secret_key(name) or _looks_secret_value(item):
                redacted.append(child)
                continue
            out[name] = _clean(item, child, redacted, where)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        kept = []
        for index, item in enumerate(items):
            child = f"{path}[{index}]"
            if _looks_secret_value(item):
                redacted.append(child)
                continue
            kept.append(_clean(item, child, redacted, where))
        return kept
    raise JournalError(
        f"{where}: cannot store {type(value).__name__} at {path or '<root>'} in the journal"
    )
