"""Running the engine's coroutines from synchronous code.

``asyncio.run`` formats the main task's ``repr`` on Python 3.11 while restoring the SIGINT
handler, and a task's repr includes its result: returning a backtest result with a million
fills from it costs seconds. This runner uses its own loop and never reprs the result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
