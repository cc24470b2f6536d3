"""Client order ids → Hyperliquid cloids (16 bytes hex), deterministically.

The same client order id always gives the same cloid, so a retry after a timeout can ask the
venue "do you already have this order?" (``orderStatus`` by cloid) before sending it again.
"""

from __future__ import annotations

import hashlib
import re

_CLOID = re.compile(r"^0x[0-9a-f]{32}$")
_NAMESPACE = b"sparkstacker/hyperliquid/cloid/v1:"


def cloid_for(client_order_id: str) -> str:
    """``"0x" + 32 hex`` from SHA-256 of the client order id (namespaced)."""
    if not client_order_id:
        raise ValueError("client order id must not be empty")
    digest = hashlib.sha256(_NAMESPACE + client_order_id.encode("utf-8")).hexdigest()
    return "0x" + digest[:32]


def is_cloid(text: str) -> bool:
    return bool(_CLOID.match(text))


def external_client_id(oid: int, cloid: str | None) -> str:
    """A stable id for an order this process did not place (UI, another bot)."""
    return cloid if cloid else f"hl-oid-{oid}"
