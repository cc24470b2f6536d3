"""What a paper or live run is asked to do (the ``spark-stacker run`` options, as data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal

from sparkstacker.errors import ConfigError
from sparkstacker.model.timeframe import Timeframe

Mode = Literal["paper", "live"]
FeedKind = Literal["replay", "hyperliquid"]

DEFAULT_BAR_MS = 5.0  # default replay pace: one bar of the finest timeframe per 5 ms of wall
# time (12,000x real time for 1m bars: a day of them in ~7 s; 720,000x for 1h bars)
DEFAULT_REPLAY_BARS = 1440  # one day of 1-minute bars
FEEDS: tuple[FeedKind, ...] = ("replay", "hyperliquid")


@dataclass(frozen=True)
class RunOptions:
    mode: Mode = "paper"
    feed: FeedKind = "replay"
    speed: float | None = None  # replay pace, times real time (None: see bar_ms)
    bar_ms: float | None = DEFAULT_BAR_MS  # without speed: wall ms per bar (None: max speed)
    bars: int | None = None  # replay: bars of the finest timeframe (None: default; 0: all)
    duration_ms: int | None = None  # replayed (or live) time to run for
    start: str | None = None  # replay start for a new paper account (ISO time)
    data_dir: Path | None = None
    equity: Decimal | None = None  # new paper accounts
    reset_paper: bool = False
    exchange_config: Path | None = None
    db: str | None = None
    log_dir: Path | None = None
    log_format: Literal["text", "json"] | None = None
    log_level: str | None = None
    state_dir: Path | None = None
    metrics: bool = True
    metrics_host: str | None = None
    metrics_port: int | None = None
    plugins: tuple[str, ...] = ()
    reload: bool = True
    reload_interval: float = 1.0  # seconds between rule-file checks
    status_interval: float = 1.0  # seconds between run.json updates
    balance_interval_ms: int = 300_000  # event time between account snapshots
    flatten_on_stop: bool = False
    yes: bool = False
    warmup_factor: int = 3  # warm-up bars = factor × the plan's own warm-up (recursive indicators)
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in ("paper", "live"):
            raise ConfigError(f"mode must be paper or live, not {self.mode!r}")
        if self.feed not in FEEDS:
            raise ConfigError(f"--feed must be one of {', '.join(FEEDS)}, not {self.feed!r}")
        if self.bars is not None and self.bars < 0:
            raise ConfigError(f"--bars must be >= 0, got {self.bars}")
        if self.speed is not None and self.speed <= 0:
            raise ConfigError(f"--speed must be positive (or 'max'), got {self.speed}")
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise ConfigError(f"--metrics-port {self.metrics_port} is outside 0..65535")

    @property
    def replay(self) -> bool:
        return self.mode == "paper" and self.feed == "replay"


def parse_speed(text: str | None) -> tuple[float | None, float | None]:
    """``--speed``: ``12000`` / ``600x`` (times real time) or ``max``; returns (speed, bar_ms).

    Without ``--speed`` a replay feeds one bar of its finest timeframe every
    :data:`DEFAULT_BAR_MS` milliseconds, whatever that timeframe is.
    """
    if text is None:
        return None, DEFAULT_BAR_MS
    raw = text.strip().lower()
    if raw in ("max", "inf", "fastest"):
        return None, None
    try:
        value = float(raw.removesuffix("x"))
    except ValueError:
        raise ConfigError(f"--speed {text!r} is not a number or 'max'") from None
    if value <= 0:
        raise ConfigError(f"--speed must be positive, got {text}")
    return value, None


def parse_duration_ms(text: str | None) -> int | None:
    """``90m``, ``6h``, ``2d``, ``1w``."""
    if text is None:
        return None
    try:
        return Timeframe(text.strip()).seconds * 1000
    except ValueError:
        raise ConfigError(
            f"--duration {text!r} is not a duration; use e.g. 90m, 6h, 2d or 1w"
        ) from None
