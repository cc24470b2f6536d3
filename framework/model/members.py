"""Enum members the engine's and the simulated venue's hot paths compare against, bound once.

On Python 3.11 reading a member through its class (``Side.BUY``) goes through
``EnumType.__getattr__`` and costs about ten times a global name; one order cycle reads
dozens. Same objects: ``x is BUY`` means exactly ``x is Side.BUY``.
"""

from __future__ import annotations

from sparkstacker.model.enums import Direction, Liquidity, MarginMode, Side
from sparkstacker.model.events import OrderEventKind
from sparkstacker.model.order import OrderStatus, OrderType, TimeInForce

BUY = Side.BUY
SELL = Side.SELL

LONG = Direction.LONG
SHORT = Direction.SHORT
FLAT = Direction.FLAT

MAKER = Liquidity.MAKER
TAKER = Liquidity.TAKER

CROSS = MarginMode.CROSS
ISOLATED = MarginMode.ISOLATED

MARKET = OrderType.MARKET
LIMIT = OrderType.LIMIT
STOP = OrderType.STOP

GTC = TimeInForce.GTC
IOC = TimeInForce.IOC
ALO = TimeInForce.ALO
FOK = TimeInForce.FOK

SUBMITTED = OrderStatus.SUBMITTED
ACCEPTED = OrderStatus.ACCEPTED
TRIGGERED = OrderStatus.TRIGGERED
PARTIALLY_FILLED = OrderStatus.PARTIALLY_FILLED
FILLED = OrderStatus.FILLED
CANCELLED = OrderStatus.CANCELLED
REJECTED = OrderStatus.REJECTED

FILL_EVENT = OrderEventKind.FILL
PARTIAL_FILL_EVENT = OrderEventKind.PARTIAL_FILL
