"""The run context handed to ``startup`` and ``shutdown`` hooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from sparkstacker.registry import Registry

RunMode = Literal["backtest", "paper", "live"]


@dataclass
class RunContext:
    """What a plugin may know about the run it is part of."""

    run_id: str
    mode: RunMode
    registry: Registry
    strategies: tuple[str, ...] = ()
    log_dir: Path | None = None
    extras: dict[str, Any] = field(default_factory=dict)
