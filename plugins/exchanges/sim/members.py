"""Enum members the venue's hot path compares against, bound to plain module names once.

On Python 3.11 reading a member through its class (``Side.BUY``) goes through
``EnumType.__getattr__`` and costs about ten times a global name; one order cycle reads dozens.
"""

from __future__ import annotations

from sparkstacker.model import Liquidity, MarginMode, OrderStatus, OrderType, Side, TimeInForce

BUY = Side.BUY
SELL = Side.SELL

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

ACCEPTED = OrderStatus.ACCEPTED
TRIGGERED = OrderStatus.TRIGGERED
CANCELLED = OrderStatus.CANCELLED
REJECTED = OrderStatus.REJECTED
SUBMITTABLE = frozenset({OrderStatus.NEW, OrderStatus.SUBMITTED})  # statuses submit accepts
