"""``/exchange`` answers: the envelope and the per-order / per-cancel statuses inside it.

Three outcome levels exist and each is handled: an action-level refusal
``{"status":"err","response":"<text>"}``; an accepted action whose statuses each say
``resting`` / ``filled`` / ``error`` (a top-level ``ok`` does **not** mean the order worked);
and transport errors (raised by the client before this module sees anything).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from sparkstacker_plugins.exchanges.hyperliquid.schemas import (
    FilledStatus,
    RestingStatus,
    format_error,
    validate,
)

WAITING_WORDS = frozenset({"waitingForFill", "waitingForTrigger"})


@dataclass(frozen=True)
class Refused:
    """The whole action was refused; ``text`` is the venue's words."""

    text: str


@dataclass(frozen=True)
class OrderOutcome:
    """One order's result inside an accepted ``order`` / ``batchModify`` action."""

    kind: Literal["resting", "filled", "error", "waiting"]
    oid: int | None = None
    total_size: Decimal | None = None
    avg_price: Decimal | None = None
    text: str | None = None


def envelope(data: Any, endpoint: str) -> Refused | dict[str, Any] | str:
    """Validate ``{"status": "ok"|"err", "response": …}``; returns Refused or the ok response."""
    if not isinstance(data, dict):
        raise format_error(endpoint, "", f"expected a JSON object, got {type(data).__name__}")
    status = data.get("status")
    if status == "err":
        text = data.get("response")
        if not isinstance(text, str):
            raise format_error(endpoint, "response", "an 'err' answer must carry a text")
        return Refused(text)
    if status != "ok":
        raise format_error(endpoint, "status", f"expected 'ok' or 'err', got {status!r}")
    if "response" not in data:
        raise format_error(endpoint, "response", "required field is missing")
    response = data["response"]
    if not isinstance(response, dict | str):
        raise format_error(endpoint, "response", "expected an object")
    return response


def _statuses(response: Any, endpoint: str, expected: int) -> list[Any]:
    if not isinstance(response, dict):
        raise format_error(endpoint, "response", "expected an object with data.statuses")
    body = response.get("data")
    if not isinstance(body, dict):
        raise format_error(endpoint, "response.data", "required object is missing")
    statuses = body.get("statuses")
    if not isinstance(statuses, list):
        raise format_error(endpoint, "response.data.statuses", "expected a list")
    if len(statuses) != expected:
        raise format_error(
            endpoint,
            "response.data.statuses",
            f"{len(statuses)} statuses for {expected} request(s)",
        )
    return statuses


def order_outcomes(data: Any, endpoint: str, expected: int) -> Refused | list[OrderOutcome]:
    """Parse an ``order`` / ``batchModify`` answer into one outcome per order sent."""
    response = envelope(data, endpoint)
    if isinstance(response, Refused):
        return response
    outcomes = []
    for i, item in enumerate(_statuses(response, endpoint, expected)):
        path = f"response.data.statuses[{i}]"
        if isinstance(item, str):
            if item not in WAITING_WORDS:
                raise format_error(endpoint, path, f"unknown status {item!r}")
            outcomes.append(OrderOutcome("waiting", text=item))
            continue
        if not isinstance(item, dict) or len(item) != 1:
            raise format_error(endpoint, path, "expected exactly one of resting/filled/error")
        ((key, value),) = item.items()
        if key == "resting":
            resting = validate(RestingStatus, value, endpoint, prefix=f"{path}.resting")
            outcomes.append(OrderOutcome("resting", oid=resting.oid, text="resting"))
        elif key == "filled":
            filled = validate(FilledStatus, value, endpoint, prefix=f"{path}.filled")
            if filled.totalSz <= 0 or filled.avgPx <= 0:
                raise format_error(
                    endpoint, f"{path}.filled", "filled with a non-positive size/price"
                )
            outcomes.append(
                OrderOutcome(
                    "filled",
                    oid=filled.oid,
                    total_size=filled.totalSz,
                    avg_price=filled.avgPx,
                    text="filled",
                )
            )
        elif key == "error":
            if not isinstance(value, str):
                raise format_error(endpoint, f"{path}.error", "expected the error text")
            outcomes.append(OrderOutcome("error", text=value))
        else:
            raise format_error(endpoint, path, f"unknown status {key!r}")
    return outcomes


def cancel_outcomes(data: Any, endpoint: str, expected: int) -> Refused | list[str | None]:
    """Parse a ``cancel`` / ``cancelByCloid`` answer: None per success, else the error text."""
    response = envelope(data, endpoint)
    if isinstance(response, Refused):
        return response
    results: list[str | None] = []
    for i, item in enumerate(_statuses(response, endpoint, expected)):
        if item == "success":
            results.append(None)
        elif isinstance(item, dict) and isinstance(item.get("error"), str) and len(item) == 1:
            results.append(item["error"])
        else:
            raise format_error(
                endpoint, f"response.data.statuses[{i}]", "expected 'success' or {error}"
            )
    return results


def default_outcome(data: Any, endpoint: str) -> Refused | None:
    """``updateLeverage`` & co: ``{"status":"ok","response":{"type":"default"}}`` or Refused."""
    response = envelope(data, endpoint)
    if isinstance(response, Refused):
        return response
    if not isinstance(response, dict) or response.get("type") != "default":
        raise format_error(endpoint, "response.type", "expected 'default'")
    return None
