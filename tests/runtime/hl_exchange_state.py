"""What the local Hyperliquid remembers for one account, and its answers in the venue's format.

Pure state, no sockets (``hl_exchange_server`` serves it and holds the lock): orders keyed by
``oid`` and by ``cloid``, fills (``tid``), positions with their entry price, leverage per coin,
and how many order requests carried each cloid. Wire formats follow
shared/research/hyperliquid.md (sections 4-5):

* ``order``: IOC / GTC / ALO limits that cross fill in full at the book's best level (the book is
  deep); an IOC that does not cross is ``iocCancelRejected``; triggers rest until
  :meth:`LocalAccount.fire_trigger`; reduce-only shrinks to the position or is refused; a cloid
  the venue already holds is refused;
* ``cancel`` / ``cancelByCloid``, ``updateLeverage`` (up to the asset's maximum);
* ``/info``: ``orderStatus`` (by oid or cloid, else ``unknownOid``), ``frontendOpenOrders``,
  ``openOrders``, ``userFills`` (newest first), ``userFillsByTime``, ``clearinghouseState``,
  ``activeAssetData``, ``l2Book``, ``candleSnapshot`` and ``meta``.

Each change also yields the websocket pushes the venue would send (``orderUpdates``,
``userFills``), which the server delivers — or not, when a fault kills the client first.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hl_local import MINUTE, candle_row, meta_body

ACCOUNT = "0x" + "ab" * 20  # sparkstacker_plugins.exchanges.hyperliquid.testing.TEST_MASTER
START_USDC = Decimal("10000")
TAKER_FEE = Decimal("0.00045")
HALF_SPREAD = Decimal("0.1")  # one ETH tick each side of the forming candle's close
DEPTH = Decimal("100")
DEFAULT_LEVERAGE = (20, True)  # the venue's default: cross 20x
ZERO = Decimal(0)
Push = dict[str, Any]


def num(value: Decimal) -> str:
    """A venue number string (plain notation, no exponent, no trailing zeros)."""
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class VenueOrder:
    oid: int
    cloid: str | None
    coin: str
    side: str  # "B" buy, "A" sell
    limit_px: Decimal
    orig_sz: Decimal
    sz: Decimal  # remaining
    reduce_only: bool
    order_type: str  # Limit | Stop Market | Take Profit Market | Stop Limit | Take Profit Limit
    tif: str | None  # Ioc | Gtc | Alo; None for triggers
    timestamp: int
    status: str
    status_ts: int
    trigger_px: Decimal | None = None
    tpsl: str | None = None

    @property
    def is_trigger(self) -> bool:
        return self.trigger_px is not None

    @property
    def filled(self) -> Decimal:
        return self.orig_sz - self.sz

    def row(self) -> dict[str, Any]:
        """A ``frontendOpenOrders`` / ``orderStatus`` order row."""
        condition = "N/A"
        if self.trigger_px is not None:
            below = (self.tpsl == "sl") == (self.side == "A")
            condition = f"Price {'below' if below else 'above'} {num(self.trigger_px)}"
        return {
            **self.ws_row(),
            "triggerCondition": condition,
            "isTrigger": self.is_trigger,
            "triggerPx": num(self.trigger_px or ZERO),
            "children": [],
            "isPositionTpsl": False,
            "orderType": self.order_type,
            "tif": self.tif,
        }

    def ws_row(self) -> dict[str, Any]:
        """An ``orderUpdates`` order row."""
        return {
            "coin": self.coin,
            "side": self.side,
            "limitPx": num(self.limit_px),
            "sz": num(self.sz),
            "oid": self.oid,
            "timestamp": self.timestamp,
            "origSz": num(self.orig_sz),
            "reduceOnly": self.reduce_only,
            "cloid": self.cloid,
        }

    def update(self) -> Push:
        return {
            "channel": "orderUpdates",
            "data": [
                {"order": self.ws_row(), "status": self.status, "statusTimestamp": self.status_ts}
            ],
        }


@dataclass
class Position:
    szi: Decimal = ZERO
    entry: Decimal = ZERO


class LocalAccount:
    """One account's orders, fills and positions; ``mid`` and ``venue_ms`` are the market."""

    def __init__(
        self,
        *,
        mid: Callable[[str], Decimal],
        venue_ms: Callable[[], int],
        address: str = ACCOUNT,
    ) -> None:
        self.mid = mid
        self.venue_ms = venue_ms
        self.address = address.lower()
        self.meta = json.loads(meta_body())
        self.coins = [asset["name"] for asset in self.meta["universe"]]
        self.max_leverage = {a["name"]: int(a["maxLeverage"]) for a in self.meta["universe"]}
        self.orders: dict[int, VenueOrder] = {}
        self.by_cloid: dict[str, VenueOrder] = {}
        self.fills: list[dict[str, Any]] = []
        self.positions: dict[str, Position] = {}
        self.leverage: dict[str, tuple[int, bool]] = {}  # coin -> (value, is_cross)
        self.realized = ZERO
        self.fees = ZERO
        self.submissions: Counter[str] = Counter()  # cloid -> order requests carrying it
        self._next_oid = 90_000_001
        self._next_tid = 500_000_001

    def best(self, coin: str) -> tuple[Decimal, Decimal]:
        mid = self.mid(coin)
        return mid - HALF_SPREAD, mid + HALF_SPREAD

    def open_orders(self, *, triggers: bool | None = None) -> list[VenueOrder]:
        return [
            o
            for o in self.orders.values()
            if o.status == "open" and (triggers is None or o.is_trigger == triggers)
        ]

    def position(self, coin: str) -> Decimal:
        return self.positions.get(coin, Position()).szi

    # ---- /exchange ----------------------------------------------------------------------------

    def action(self, action: dict[str, Any], pushes: list[Push]) -> tuple[dict[str, Any], bool]:
        """Answer one action; returns (answer, whether it held an order opening a position)."""
        kind = action.get("type")
        if kind == "order":
            statuses = []
            opening = False
            for wire in action["orders"]:
                if wire.get("c") is not None:
                    self.submissions[str(wire["c"])] += 1
                opening = opening or not wire.get("r")
                statuses.append(self._place(wire, pushes))
            return _ok("order", {"statuses": statuses}), opening
        if kind == "cancel":
            found = [(int(c["a"]), self.orders.get(int(c["o"]))) for c in action["cancels"]]
            return self._cancel(found, pushes), False
        if kind == "cancelByCloid":
            cancels = action["cancels"]
            found = [(int(c["asset"]), self.by_cloid.get(str(c["cloid"]))) for c in cancels]
            return self._cancel(found, pushes), False
        if kind == "updateLeverage":
            coin = self.coins[int(action["asset"])]
            value = int(action["leverage"])
            if not 1 <= value <= self.max_leverage[coin]:
                return {"status": "err", "response": "Invalid leverage value"}, False
            self.leverage[coin] = (value, bool(action["isCross"]))
            return {"status": "ok", "response": {"type": "default"}}, False
        if kind == "scheduleCancel":
            return {"status": "ok", "response": {"type": "default"}}, False
        return {"status": "err", "response": f"local venue: unsupported action {kind}"}, False

    def _place(self, wire: dict[str, Any], pushes: list[Push]) -> Any:
        asset = int(wire["a"])
        coin = self.coins[asset]
        cloid = wire.get("c")
        if cloid is not None and cloid in self.by_cloid:
            return {"error": f"Duplicate cloid {cloid}. asset={asset}"}
        side = "B" if wire["b"] else "A"
        size = Decimal(str(wire["s"]))
        if wire["r"]:
            held = self.position(coin)
            if not (held < 0 if side == "B" else held > 0):
                self._record(coin, wire, side, size, "reduceOnlyRejected")
                return {"error": f"Reduce only order would increase position. asset={asset}"}
            size = min(size, abs(held))  # shrunk to the position, not refused
        order = self._record(coin, wire, side, size, "open")
        if order.is_trigger:
            pushes.append(order.update())
            return _resting(order)
        bid, ask = self.best(coin)
        crosses = order.limit_px >= ask if side == "B" else order.limit_px <= bid
        if not crosses:
            if order.tif == "Ioc":
                self._set_status(order, "iocCancelRejected", pushes)
                return {
                    "error": "Order could not immediately match against any resting orders. "
                    f"asset={asset}"
                }
            pushes.append(order.update())
            return _resting(order)
        if order.tif == "Alo":
            self._set_status(order, "badAloPxRejected", pushes)
            return {"error": f"Post only order would have immediately matched. asset={asset}"}
        price = ask if side == "B" else bid
        self._fill(order, price, pushes)
        self._set_status(order, "filled", pushes)
        filled = {"totalSz": num(order.orig_sz), "avgPx": num(price), "oid": order.oid}
        return {"filled": {**filled, **({"cloid": cloid} if cloid else {})}}

    def _record(
        self, coin: str, wire: dict[str, Any], side: str, size: Decimal, status: str
    ) -> VenueOrder:
        kind = wire["t"]
        tif: str | None
        if "trigger" in kind:
            trigger = kind["trigger"]
            tpsl: str | None = str(trigger["tpsl"])
            market = " Market" if trigger["isMarket"] else " Limit"
            name = ("Stop" if tpsl == "sl" else "Take Profit") + market
            tif, trigger_px = None, Decimal(str(trigger["triggerPx"]))
        else:
            name, tif, trigger_px, tpsl = "Limit", str(kind["limit"]["tif"]), None, None
        at = now_ms()
        order = VenueOrder(
            oid=self._next_oid,
            cloid=wire.get("c"),
            coin=coin,
            side=side,
            limit_px=Decimal(str(wire["p"])),
            orig_sz=size,
            sz=size,
            reduce_only=bool(wire["r"]),
            order_type=name,
            tif=tif,
            timestamp=at,
            status=status,
            status_ts=at,
            trigger_px=trigger_px,
            tpsl=tpsl,
        )
        self._next_oid += 1
        self.orders[order.oid] = order
        if order.cloid is not None:
            self.by_cloid[order.cloid] = order
        return order

    def fire_trigger(self, tpsl: str) -> dict[str, Any]:
        """The market reached a resting trigger: it fills in full at its trigger price. Nothing
        is pushed (the caller decides whether the client lives to hear of it)."""
        [order] = [o for o in self.open_orders(triggers=True) if o.tpsl == tpsl]
        assert order.trigger_px is not None
        row = self._fill(order, order.trigger_px, [])
        self._set_status(order, "filled", [])
        return row

    def _fill(self, order: VenueOrder, price: Decimal, pushes: list[Push]) -> dict[str, Any]:
        """Fill what is left of ``order`` at ``price``: position, PnL, fee and the fill row."""
        size = order.sz
        position = self.positions.setdefault(order.coin, Position())
        signed = size if order.side == "B" else -size
        start = position.szi
        end = start + signed
        closing = min(abs(start), size) if start * signed < 0 else ZERO
        pnl = closing * (price - position.entry) * (1 if start > 0 else -1)
        if start == 0 or start * signed > 0:
            direction = "Open Long" if signed > 0 else "Open Short"
            position.entry = (abs(start) * position.entry + size * price) / abs(end)
        elif end * start < 0:
            direction = "Long > Short" if start > 0 else "Short > Long"
            position.entry = price  # the rest opened at this price
        else:
            direction = "Close Long" if start > 0 else "Close Short"
            position.entry = position.entry if end else ZERO
        position.szi = end
        fee = (price * size * TAKER_FEE).quantize(Decimal("0.000001"))
        self.realized += pnl
        self.fees += fee
        tid = self._next_tid
        self._next_tid += 1
        row = {
            "coin": order.coin,
            "px": num(price),
            "sz": num(size),
            "side": order.side,
            "time": now_ms(),
            "startPosition": num(start),
            "dir": direction,
            "closedPnl": num(pnl),
            "hash": "0x" + hashlib.sha256(str(tid).encode()).hexdigest(),
            "oid": order.oid,
            "crossed": True,
            "fee": num(fee),
            "tid": tid,
            "feeToken": "USDC",
            **({"cloid": order.cloid} if order.cloid else {}),
        }
        self.fills.append(row)
        order.sz = ZERO
        pushes.append({"channel": "userFills", "data": {"user": self.address, "fills": [row]}})
        return row

    def _set_status(self, order: VenueOrder, status: str, pushes: list[Push]) -> None:
        order.status = status
        order.status_ts = now_ms()
        pushes.append(order.update())

    def _cancel(
        self, found: list[tuple[int, VenueOrder | None]], pushes: list[Push]
    ) -> dict[str, Any]:
        statuses: list[Any] = []
        for asset, order in found:
            if order is None or order.status != "open":
                statuses.append(
                    {"error": f"Order was never placed, already canceled, or filled. asset={asset}"}
                )
                continue
            self._set_status(order, "canceled", pushes)
            statuses.append("success")
        return _ok("cancel", {"statuses": statuses})

    # ---- /info --------------------------------------------------------------------------------

    def info(self, body: dict[str, Any]) -> Any:
        """Answer one ``/info`` request; LookupError for a type this venue does not serve."""
        kind = body.get("type")
        if "user" in body and str(body["user"]).lower() != self.address:
            raise LookupError(f"local venue: no account {body['user']}")
        if kind == "meta":
            return self.meta
        if kind == "candleSnapshot":
            req = body["req"]
            lo = int(req["startTime"]) - int(req["startTime"]) % MINUTE
            hi = min(int(req["endTime"]), self.venue_ms() + 1)
            return [candle_row(req["coin"], t) for t in range(lo, hi, MINUTE)]
        if kind == "l2Book":
            bid, ask = self.best(body["coin"])
            level = {"sz": num(DEPTH), "n": 3}
            levels = [[{"px": num(bid), **level}], [{"px": num(ask), **level}]]
            return {"coin": body["coin"], "time": now_ms(), "levels": levels}
        if kind == "clearinghouseState":
            return self.clearinghouse()
        if kind == "activeAssetData":
            value, cross = self.leverage.get(body["coin"], DEFAULT_LEVERAGE)
            return {
                "user": self.address,
                "coin": body["coin"],
                "leverage": {"type": "cross" if cross else "isolated", "value": value},
                "maxTradeSzs": ["10", "10"],
                "availableToTrade": ["10", "10"],
                "markPx": num(self.mid(body["coin"])),
            }
        if kind == "orderStatus":
            ref = body["oid"]
            order = self.by_cloid.get(ref) if isinstance(ref, str) else self.orders.get(int(ref))
            if order is None:
                return {"status": "unknownOid"}
            record = {"order": order.row(), "status": order.status}
            return {"status": "order", "order": {**record, "statusTimestamp": order.status_ts}}
        if kind == "frontendOpenOrders":
            return [o.row() for o in self.open_orders()]
        if kind == "openOrders":
            return [o.ws_row() for o in self.open_orders()]
        if kind == "userFills":
            return list(reversed(self.fills[-2000:]))
        if kind == "userFillsByTime":
            since = int(body["startTime"])
            until = int(body["endTime"]) if body.get("endTime") is not None else None
            rows = [
                f
                for f in self.fills
                if since <= f["time"] and (until is None or f["time"] <= until)
            ]
            return rows[:2000]
        raise LookupError(f"local venue: unsupported info type {kind!r}")

    def clearinghouse(self) -> dict[str, Any]:
        positions = []
        unrealized = margin = notional = ZERO
        for coin, position in sorted(self.positions.items()):
            if position.szi == 0:
                continue  # flat coins are absent
            mark = self.mid(coin)
            value, cross = self.leverage.get(coin, DEFAULT_LEVERAGE)
            pnl = (mark - position.entry) * position.szi
            worth = abs(position.szi) * mark
            unrealized, margin, notional = (
                unrealized + pnl,
                margin + worth / value,
                notional + worth,
            )
            positions.append(
                {
                    "type": "oneWay",
                    "position": {
                        "coin": coin,
                        "szi": num(position.szi),
                        "entryPx": num(position.entry),
                        "leverage": {"type": "cross" if cross else "isolated", "value": value},
                        "liquidationPx": None,
                        "marginUsed": num(worth / value),
                        "positionValue": num(worth),
                        "unrealizedPnl": num(pnl),
                        "returnOnEquity": "0.0",
                        "maxLeverage": self.max_leverage[coin],
                        "cumFunding": {"allTime": "0.0", "sinceOpen": "0.0", "sinceChange": "0.0"},
                    },
                }
            )
        equity = START_USDC + self.realized - self.fees + unrealized
        summary = {
            "accountValue": num(equity),
            "totalMarginUsed": num(margin),
            "totalNtlPos": num(notional),
            "totalRawUsd": num(equity - notional),
        }
        return {
            "assetPositions": positions,
            "marginSummary": summary,
            "crossMarginSummary": summary,
            "crossMaintenanceMarginUsed": num(margin / 2),
            "withdrawable": num(max(ZERO, equity - margin)),
            "time": now_ms(),
        }


def _ok(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"status": "ok", "response": {"type": kind, "data": data}}


def _resting(order: VenueOrder) -> dict[str, Any]:
    return {"resting": {"oid": order.oid, **({"cloid": order.cloid} if order.cloid else {})}}
