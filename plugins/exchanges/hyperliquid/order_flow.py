"""Order round trips with the venue: send, look up by cloid, fetch fills, cancel, modify.

No order is ever doubled: every order carries a cloid derived from its client order id and an
``expiresAfter``. After an ambiguous failure (timeout, dropped connection, 5xx) the flow waits
until that expiry has passed — the order can no longer land — asks ``orderStatus`` by cloid, and
sends again only what the venue does not know. Reports that say "filled" carry the order's fills
from ``userFills`` (the engine applies fills, never bare sizes).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sparkstacker.errors import ExchangeError, OrderRejected, RetryableExchangeError
from sparkstacker.exchange import OrderReport
from sparkstacker.model import ZERO, Fill, Order, OrderStatus, from_millis
from sparkstacker_plugins.exchanges.hyperliquid.client import HyperliquidClient
from sparkstacker_plugins.exchanges.hyperliquid.clock import AdapterClock, now_ms
from sparkstacker_plugins.exchanges.hyperliquid.ids import cloid_for
from sparkstacker_plugins.exchanges.hyperliquid.orders import PreparedOrder, report_from_outcome
from sparkstacker_plugins.exchanges.hyperliquid.parsing import (
    parse_fills,
    parse_order_status,
    record_outcome,
)
from sparkstacker_plugins.exchanges.hyperliquid.responses import (
    Refused,
    cancel_outcomes,
    order_outcomes,
)
from sparkstacker_plugins.exchanges.hyperliquid.settings import HyperliquidSettings
from sparkstacker_plugins.exchanges.hyperliquid.streams import FillLedger, OrderIds
from sparkstacker_plugins.exchanges.hyperliquid.symbols import Market, SymbolMap
from sparkstacker_plugins.exchanges.hyperliquid.venue_errors import (
    VenueConnectionError,
    action_error,
)

log = logging.getLogger(__name__)
FILL_LOOKUP_ATTEMPTS = 3
FILL_LOOKBACK_MS = 5_000


class OrderFlow:
    """The request/answer side of orders for one account (validation happens before)."""

    def __init__(
        self,
        *,
        name: str,
        account: str,
        client: HyperliquidClient,
        settings: HyperliquidSettings,
        clock: AdapterClock,
        ids: OrderIds,
        ledger: FillLedger,
        symbols: Callable[[], SymbolMap],
        address: Callable[[], str],
    ) -> None:
        self.name = name
        self.account = account
        self.client = client
        self.settings = settings
        self.clock = clock
        self.ids = ids
        self.ledger = ledger
        self.symbols = symbols
        self.address = address

    @property
    def expiry_ms(self) -> int:
        return int(self.settings.order_expiry_seconds * 1000)

    async def wait_out_expiry(self) -> None:
        """After an ambiguous failure: wait until the action's expiresAfter has passed."""
        await self.clock.sleep(self.settings.order_expiry_seconds + 1)

    async def send(self, prepared: list[PreparedOrder], grouping: str) -> list[OrderReport]:
        for item in prepared:
            self.ids.remember(item.order.client_order_id, item.cloid)
        results: dict[str, OrderReport] = {}
        pending = list(prepared)
        for attempt in range(1, self.settings.max_retries + 1):
            sent_at = now_ms(self.clock)
            batch = list(pending)
            try:
                requests = [p.sdk_request(self.client.cloid(p.cloid)) for p in batch]
                raw = await self.client.action(
                    "order",
                    functools.partial(_bulk_orders, requests=requests, grouping=grouping),
                    batch=len(batch),
                    retry_ambiguous=False,
                    expires_ms=self.expiry_ms,
                )
            except VenueConnectionError as exc:
                # The venue may have the order. Wait until its expiresAfter has passed (it can no
                # longer land), then ask by cloid; only orders it does not know are sent again.
                log.warning(
                    "order action failed ambiguously (attempt %d): %s; looking up by cloid",
                    attempt,
                    exc,
                )
                await self.wait_out_expiry()
                still = []
                for item in batch:
                    found = await self.lookup(item.order.client_order_id, cloid=item.cloid)
                    if found is None:
                        still.append(item)
                    else:
                        results[item.order.client_order_id] = found
                if grouping != "na" and still and batch[0] not in still:
                    # The parent landed: its TP/SL children went with it in the same action
                    # and are not looked up individually until they trigger. Never re-send.
                    for item in still:
                        results[item.order.client_order_id] = OrderReport(
                            client_order_id=item.order.client_order_id,
                            status=OrderStatus.ACCEPTED,
                            reason="waitingForFill (sent with a parent the venue confirmed)",
                            timestamp=self.clock.now(),
                        )
                    still = []
                pending = still
                if not pending:
                    break
                continue
            outcomes = order_outcomes(raw, "exchange:order", len(batch))
            if isinstance(outcomes, Refused):
                error = action_error(outcomes.text, venue=self.name, action="order")
                if type(error) is not ExchangeError:
                    raise error
                for item in batch:
                    results[item.order.client_order_id] = OrderReport(
                        client_order_id=item.order.client_order_id,
                        status=OrderStatus.REJECTED,
                        reason=outcomes.text,
                        timestamp=self.clock.now(),
                    )
            else:
                for i, (item, outcome) in enumerate(zip(batch, outcomes, strict=True)):
                    fills: tuple[Fill, ...] = ()
                    if outcome.kind == "filled" and outcome.oid is not None:
                        assert outcome.total_size is not None
                        fills = await self.fills_for_oid(
                            outcome.oid,
                            since_ms=sent_at - FILL_LOOKBACK_MS,
                            want=outcome.total_size,
                            client_order_id=item.order.client_order_id,
                        )
                    report = report_from_outcome(
                        item,
                        outcome,
                        now=self.clock.now(),
                        fills=fills,
                        path=f"response.data.statuses[{i}]",
                    )
                    self.note(report, item.cloid)
                    results[item.order.client_order_id] = report
            pending = []
            break
        if pending:
            ids = ", ".join(p.order.client_order_id for p in pending)
            raise RetryableExchangeError(
                f"order(s) {ids} not confirmed after {self.settings.max_retries} attempts; the "
                "venue does not know them (looked up by cloid)",
                venue=self.name,
            )
        return [results[p.order.client_order_id] for p in prepared]

    def note(self, report: OrderReport, cloid: str) -> None:
        """Remember ids and mark reported fills delivered (the stream will not repeat them)."""
        if report.venue_order_id is not None:
            self.ids.remember(report.client_order_id, cloid, report.venue_order_id)
        for fill in report.fills:
            self.ledger.add(fill)

    async def fills_for_oid(
        self, oid: int, *, since_ms: int, want: Decimal, client_order_id: str
    ) -> tuple[Fill, ...]:
        """The fills of one order (userFills can trail the order answer by a moment)."""
        address = self.address()
        found: list[Fill] = []
        for attempt in range(FILL_LOOKUP_ATTEMPTS):
            raw = await self.client.info(
                "userFillsByTime", lambda i: i.user_fills_by_time(address, since_ms)
            )
            fills = parse_fills(
                raw,
                self.symbols(),
                venue=self.name,
                account=self.account,
                client_ids=self.ids.by_cloid,
                endpoint="userFillsByTime",
            )
            found = [f for f in fills if f.venue_order_id == str(oid)]
            if sum((f.size for f in found), ZERO) >= want:
                break
            if attempt + 1 < FILL_LOOKUP_ATTEMPTS:
                await self.clock.sleep(0.25 * 2**attempt)
        found = [
            f.model_copy(update={"client_order_id": client_order_id})
            if f.client_order_id != client_order_id
            else f
            for f in found
        ]
        return tuple(sorted(found, key=lambda f: f.timestamp))

    async def lookup(
        self, client_order_id: str, *, cloid: str | None = None, oid: int | None = None
    ) -> OrderReport | None:
        """The venue's record of an order (by cloid, else oid) with its fills, or None."""
        address = self.address()
        if cloid is not None:
            cloid_obj = self.client.cloid(cloid)
            raw = await self.client.info(
                "orderStatus", lambda i: i.query_order_by_cloid(address, cloid_obj)
            )
        elif oid is not None:
            raw = await self.client.info(
                "orderStatus", lambda i: i.query_order_by_oid(address, oid)
            )
        else:
            raise ValueError("need a cloid or an oid")
        record = parse_order_status(raw)
        if record is None:
            return None
        status, filled, reason = record_outcome(record, endpoint="orderStatus")
        row = record.order
        self.ids.remember(
            client_order_id, cloid or row.cloid or cloid_for(client_order_id), row.oid
        )
        fills: tuple[Fill, ...] = ()
        if filled > 0:
            fills = await self.fills_for_oid(
                row.oid,
                since_ms=row.timestamp - FILL_LOOKBACK_MS,
                want=filled,
                client_order_id=client_order_id,
            )
        visible = sum((f.size for f in fills), ZERO)
        if visible < filled:
            status = OrderStatus.PARTIALLY_FILLED if visible > 0 else OrderStatus.ACCEPTED
            reason = f"{reason}; {filled} filled per the venue, {visible} visible in userFills"
        for fill in fills:
            self.ledger.add(fill)
        return OrderReport(
            client_order_id=client_order_id,
            venue_order_id=str(row.oid),
            status=status,
            filled_size=visible,
            avg_fill_price=(
                sum((f.price * f.size for f in fills), ZERO) / visible if visible else None
            ),
            reason=reason,
            fills=fills,
            timestamp=from_millis(record.statusTimestamp),
        )

    async def cancel(self, order: Order, market: Market) -> OrderReport:
        """Cancel by oid when known, else by cloid; the answer is then confirmed by status."""
        cloid = cloid_for(order.client_order_id)
        oid = order_oid(order)
        if oid is not None:
            endpoint = "exchange:cancel"
            raw = await self.client.action("cancel", lambda ex: ex.cancel(market.coin, oid))
        else:
            endpoint = "exchange:cancelByCloid"
            cloid_obj = self.client.cloid(cloid)
            raw = await self.client.action(
                "cancelByCloid", lambda ex: ex.cancel_by_cloid(market.coin, cloid_obj)
            )
        result = cancel_outcomes(raw, endpoint, 1)
        if isinstance(result, Refused):
            raise action_error(
                result.text, venue=self.name, action=f"cancel {order.client_order_id}"
            )
        error = result[0]
        external = order.client_order_id.startswith("hl-oid-")
        final = await self.lookup(
            order.client_order_id,
            cloid=None if external else cloid,
            oid=oid if external else None,
        )
        now = self.clock.now()
        if error is None:
            if final is not None and final.status is OrderStatus.CANCELLED:
                return final
            return OrderReport(
                client_order_id=order.client_order_id,
                venue_order_id=order.venue_order_id or (final.venue_order_id if final else None),
                status=OrderStatus.CANCELLED,
                filled_size=final.filled_size if final else ZERO,
                avg_fill_price=final.avg_fill_price if final else None,
                fills=final.fills if final else (),
                reason="canceled",
                timestamp=now,
            )
        if final is not None:
            return final.model_copy(update={"reason": f"{final.reason} (cancel: {error})"})
        return OrderReport(
            client_order_id=order.client_order_id,
            venue_order_id=order.venue_order_id,
            status=OrderStatus.REJECTED,
            reason=f"order unknown to the venue: {error}",
            timestamp=now,
        )

    async def modify(self, order: Order, prepared: PreparedOrder) -> OrderReport:
        """Send a ``batchModify`` for a prepared replacement of ``order`` (same cloid)."""
        oid = order_oid(order)
        reference: Any = oid if oid is not None else self.client.cloid(prepared.cloid)
        request = prepared.sdk_request(self.client.cloid(prepared.cloid))
        sent_at = now_ms(self.clock)
        try:
            raw = await self.client.action(
                "batchModify",
                lambda ex: ex.modify_order(
                    reference,
                    request["coin"],
                    request["is_buy"],
                    request["sz"],
                    request["limit_px"],
                    request["order_type"],
                    request["reduce_only"],
                    request["cloid"],
                ),
                retry_ambiguous=False,
                expires_ms=self.expiry_ms,
            )
        except VenueConnectionError as exc:
            # Re-sending a modify that went through would hit the replaced oid: ask instead.
            log.warning("modify of %s failed ambiguously: %s", order.client_order_id, exc)
            await self.wait_out_expiry()
            found = await self.lookup(order.client_order_id, cloid=prepared.cloid)
            if found is None:
                raise
            return found
        outcomes = order_outcomes(raw, "exchange:batchModify", 1)
        if isinstance(outcomes, Refused):
            raise action_error(outcomes.text, venue=self.name, action="modify")
        outcome = outcomes[0]
        if outcome.kind == "error":
            raise OrderRejected(
                outcome.text or "modify refused",
                venue=self.name,
                client_order_id=order.client_order_id,
            )
        fills: tuple[Fill, ...] = ()
        if outcome.kind == "filled" and outcome.oid is not None:
            assert outcome.total_size is not None
            fills = await self.fills_for_oid(
                outcome.oid,
                since_ms=sent_at - FILL_LOOKBACK_MS,
                want=outcome.total_size,
                client_order_id=order.client_order_id,
            )
        report = report_from_outcome(
            prepared, outcome, now=self.clock.now(), fills=fills, endpoint="exchange:batchModify"
        )
        self.note(report, prepared.cloid)
        return report


def _bulk_orders(exchange: Any, *, requests: list[dict[str, Any]], grouping: str) -> Any:
    return exchange.bulk_orders(requests, grouping=grouping)


def order_oid(order: Order) -> int | None:
    """The venue order id as an int, when the order has one."""
    text = order.venue_order_id
    return int(text) if text is not None and text.isdigit() else None
