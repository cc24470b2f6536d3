"""The candle and funding store: partitioned Parquet files under one root folder.

``CandleStore(root)`` merges each write into the partitions it touches (newest wins on equal
timestamps), validates at the boundary (a bad row is a :class:`DataError` naming the row, and
nothing is written), and keeps a small ``_dataset.json`` beside each dataset with its flags and
summary so ``datasets()`` is instant. Sample data is flagged ``synthetic`` and stays flagged.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sparkstacker.data import layout
from sparkstacker.data.frames import (
    CANDLE_COLUMNS,
    FUNDING_COLUMNS,
    PRICE_COLUMNS,
    datetimes_to_ms,
    dedupe_sorted,
    describe_ms,
    describe_optional_ms,
    empty_candles,
    empty_funding,
    timestamp_ms,
    validate_candles,
    validate_funding,
)
from sparkstacker.data.funding import align_funding, infer_intervals
from sparkstacker.data.gaps import Gap, find_funding_gaps, find_gaps
from sparkstacker.errors import DataError
from sparkstacker.lang.plan import BarFrame
from sparkstacker.model.timeframe import Timeframe

Kind = Literal["candles", "funding"]
TimeLike = datetime | pd.Timestamp | str | int | None

_TS = pa.timestamp("ms", tz="UTC")
CANDLE_SCHEMA = pa.schema(
    [("timestamp", _TS)] + [(c, pa.float64()) for c in (*PRICE_COLUMNS, "volume")]
)
FUNDING_SCHEMA = pa.schema(
    [("timestamp", _TS), ("rate", pa.float64()), ("interval_seconds", pa.int64())]
)
FUNDING_SNAP_MS = 1000
# zstd without dictionaries, delta-coded times: 64k real 1m bars take ~0.9 MB, written in ~30 ms
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "use_dictionary": False,
    "column_encoding": {"timestamp": "DELTA_BINARY_PACKED"},
}


def _step_ms(timeframe: str) -> int:
    try:
        return Timeframe(timeframe).seconds * 1000
    except ValueError as exc:
        raise DataError(str(exc)) from None


def _bound(value: TimeLike) -> int | None:
    return None if value is None else timestamp_ms(value)


@dataclass(frozen=True)
class WriteReport:
    """What one write did. ``gaps`` are those of the whole dataset after the write."""

    kind: Kind
    venue: str
    symbol: str
    timeframe: str | None
    rows_in: int
    rows_added: int
    rows_replaced: int
    rows_unchanged: int
    duplicates_in_input: int
    first: int | None
    last: int | None
    total_rows: int
    gaps: tuple[Gap, ...]
    partitions: tuple[str, ...]
    synthetic: bool
    replaced_synthetic: bool = False

    @property
    def name(self) -> str:
        what = self.timeframe if self.kind == "candles" else "funding"
        return f"{self.venue} {self.symbol} {what}"

    def summary(self) -> str:
        text = (
            f"{self.name}: {self.rows_added} added, {self.rows_replaced} replaced, "
            f"{self.rows_unchanged} unchanged; {self.total_rows} rows stored"
        )
        if self.first is not None and self.last is not None:
            text += f"; this write covered {describe_ms(self.first)} → {describe_ms(self.last)}"
        if self.duplicates_in_input:
            text += (
                f"; input repeated {self.duplicates_in_input} timestamp(s): the last of each "
                "was kept"
            )
        if self.replaced_synthetic:
            text += "; the synthetic sample data stored here before was removed"
        if self.gaps:
            missing = sum(g.missing for g in self.gaps)
            text += f"; {len(self.gaps)} gap(s), {missing} bar(s) missing"
        if self.synthetic:
            text += " [SYNTHETIC]"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "venue": self.venue,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "rows_in": self.rows_in,
            "rows_added": self.rows_added,
            "rows_replaced": self.rows_replaced,
            "rows_unchanged": self.rows_unchanged,
            "duplicates_in_input": self.duplicates_in_input,
            "first": describe_optional_ms(self.first),
            "last": describe_optional_ms(self.last),
            "total_rows": self.total_rows,
            "gaps": [g.to_dict() for g in self.gaps],
            "partitions": list(self.partitions),
            "synthetic": self.synthetic,
            "replaced_synthetic": self.replaced_synthetic,
        }


@dataclass(frozen=True)
class DatasetInfo:
    """One stored series: candles of one timeframe, or the funding prints of one market."""

    kind: Kind
    venue: str
    symbol: str
    timeframe: str | None
    rows: int
    first: int | None
    last: int | None
    gaps: int
    synthetic: bool
    source: str = ""
    bytes: int = 0
    files: int = 0
    path: Path = field(default=Path(), compare=False)

    @property
    def first_time(self) -> datetime | None:
        return None if self.first is None else datetime.fromtimestamp(self.first / 1000, tz=UTC)

    @property
    def last_time(self) -> datetime | None:
        return None if self.last is None else datetime.fromtimestamp(self.last / 1000, tz=UTC)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "venue": self.venue,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "rows": self.rows,
            "first": describe_optional_ms(self.first),
            "last": describe_optional_ms(self.last),
            "gaps": self.gaps,
            "synthetic": self.synthetic,
            "source": self.source,
            "bytes": self.bytes,
            "files": self.files,
            "path": str(self.path),
        }


@dataclass
class _Merge:
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


class CandleStore:
    """Candles and funding for any number of venues and symbols under ``root``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"CandleStore({str(self.root)!r})"

    # ---- paths --------------------------------------------------------------------------------

    def candles_dir(self, venue: str, symbol: str, timeframe: str) -> Path:
        return (
            self.root
            / "candles"
            / f"venue={layout.encode(venue, 'venue')}"
            / f"symbol={layout.encode(symbol, 'symbol')}"
            / f"timeframe={layout.encode(timeframe, 'timeframe')}"
        )

    def funding_dir(self, venue: str, symbol: str) -> Path:
        return (
            self.root
            / "funding"
            / f"venue={layout.encode(venue, 'venue')}"
            / f"symbol={layout.encode(symbol, 'symbol')}"
        )

    # ---- candles ------------------------------------------------------------------------------

    def write_candles(
        self,
        venue: str,
        symbol: str,
        timeframe: str,
        df: pd.DataFrame,
        *,
        synthetic: bool = False,
        source: str = "",
    ) -> WriteReport:
        """Merge candles into the dataset; equal timestamps: the new row wins. All or nothing."""
        step = _step_ms(timeframe)
        batch, duplicates = dedupe_sorted(validate_candles(df, step_ms=step))
        folder = self.candles_dir(venue, symbol, timeframe)
        with layout.locked(folder):
            return self._write(
                "candles", venue, symbol, timeframe, folder, batch, duplicates,
                synthetic=synthetic, source=source, step_ms=step,
            )  # fmt: skip

    def read_candles(
        self,
        venue: str,
        symbol: str,
        timeframe: str,
        start: TimeLike = None,
        end: TimeLike = None,
    ) -> pd.DataFrame:
        """Candles with ``start <= timestamp < end`` (either bound optional), sorted, unique.

        Raises DataError when nothing at all is stored for this venue/symbol/timeframe.
        """
        folder = self._stored_candles_dir(venue, symbol, timeframe)
        kind = layout.period_kind(_step_ms(timeframe) // 1000)
        frame = self._read(folder, kind, CANDLE_SCHEMA, _bound(start), _bound(end))
        return frame if not frame.empty else empty_candles()

    def _stored_candles_dir(self, venue: str, symbol: str, timeframe: str) -> Path:
        """The candles folder of one dataset; DataError when nothing is stored there."""
        folder = self.candles_dir(venue, symbol, timeframe)
        if not layout.partition_files(folder):
            raise DataError(self._missing_message(venue, symbol, timeframe))
        return folder

    def has_candles(self, venue: str, symbol: str, timeframe: str) -> bool:
        return bool(layout.partition_files(self.candles_dir(venue, symbol, timeframe)))

    def timeframes(self, venue: str, symbol: str) -> list[str]:
        """Timeframes stored for one market, shortest first."""
        folder = self.candles_dir(venue, symbol, "1m").parent
        if not folder.is_dir():
            return []
        found = [layout.decode(p.name) for p in folder.iterdir() if layout.partition_files(p)]
        return sorted(found, key=lambda tf: Timeframe(tf).seconds)

    def last_timestamp(self, venue: str, symbol: str, timeframe: str) -> int | None:
        """Open time (ms) of the newest stored bar, or None."""
        files = layout.partition_files(self.candles_dir(venue, symbol, timeframe))
        for path in reversed(files):
            column = pq.read_table(path, columns=["timestamp"]).column("timestamp")
            if len(column):
                return int(column.cast(pa.int64()).to_numpy().max())
        return None

    def gaps(self, venue: str, symbol: str, timeframe: str) -> list[Gap]:
        folder = self._stored_candles_dir(venue, symbol, timeframe)
        return find_gaps(self._timestamps(folder), _step_ms(timeframe))

    def frame(
        self,
        venue: str,
        symbol: str,
        timeframe: str,
        start: TimeLike = None,
        end: TimeLike = None,
        with_funding: bool = True,
    ) -> BarFrame:
        """Candles as a BarFrame (epoch-ms timestamps). ``funding`` holds the summed rate of the
        prints falling in each bar (NaN in bars without one), or None when no funding is stored.
        """
        candles = self.read_candles(venue, symbol, timeframe, start, end)
        info = self.dataset(venue, symbol, timeframe)
        synthetic = bool(info and info.synthetic)
        funding = self.funding_matching(venue, symbol, synthetic) if with_funding else None
        return bar_frame(candles, timeframe, funding)

    # ---- funding ------------------------------------------------------------------------------

    def write_funding(
        self,
        venue: str,
        symbol: str,
        df: pd.DataFrame,
        *,
        synthetic: bool = False,
        source: str = "",
    ) -> WriteReport:
        """Merge funding prints. Prints within a second of each other are one print (venues stamp
        them with jitter); the new one wins. ``interval_seconds`` is inferred when absent."""
        frame = df
        if "interval_seconds" not in frame.columns and "timestamp" in frame.columns:
            frame = frame.copy()
            ordered = np.sort(datetimes_or_ms(frame["timestamp"]))
            intervals = infer_intervals(ordered)
            lookup = dict(zip(ordered.tolist(), intervals.tolist(), strict=True))
            frame["interval_seconds"] = [
                lookup[t] for t in datetimes_or_ms(frame["timestamp"]).tolist()
            ]
        clean = validate_funding(frame)
        batch, duplicates = dedupe_sorted(clean, _merge_keys("funding", clean["timestamp"]))
        folder = self.funding_dir(venue, symbol)
        with layout.locked(folder):
            return self._write(
                "funding", venue, symbol, None, folder, batch, duplicates,
                synthetic=synthetic, source=source, step_ms=None,
            )  # fmt: skip

    def read_funding(
        self, venue: str, symbol: str, start: TimeLike = None, end: TimeLike = None
    ) -> pd.DataFrame:
        """Funding prints with ``start <= timestamp < end``; empty when none are stored."""
        folder = self.funding_dir(venue, symbol)
        frame = self._read(folder, "Y", FUNDING_SCHEMA, _bound(start), _bound(end))
        return frame if not frame.empty else empty_funding()

    def funding_matching(self, venue: str, symbol: str, synthetic: bool) -> pd.DataFrame | None:
        """The market's funding when its synthetic flag matches the candles' (sample funding is
        never paired with real candles, nor real funding with sample candles); else None."""
        info = self.dataset(venue, symbol, None)
        if info is None or info.synthetic != synthetic:
            return None
        return self.read_funding(venue, symbol)

    def has_funding(self, venue: str, symbol: str) -> bool:
        return bool(layout.partition_files(self.funding_dir(venue, symbol)))

    def funding_gaps(self, venue: str, symbol: str) -> list[Gap]:
        funding = self.read_funding(venue, symbol)
        return find_funding_gaps(
            datetimes_to_ms(funding["timestamp"]), funding["interval_seconds"].to_numpy()
        )

    # ---- catalogue ----------------------------------------------------------------------------

    def datasets(self) -> list[DatasetInfo]:
        """Every stored dataset by venue and symbol (candles by timeframe, then funding)."""
        found = [self._info(folder, "candles") for folder in self._dataset_dirs("candles")]
        found += [self._info(folder, "funding") for folder in self._dataset_dirs("funding")]
        return sorted(
            found,
            key=lambda d: (
                d.venue,
                d.symbol,
                d.kind == "funding",
                Timeframe(d.timeframe).seconds if d.timeframe else 0,
            ),
        )

    def dataset(self, venue: str, symbol: str, timeframe: str | None) -> DatasetInfo | None:
        """One dataset's summary (``timeframe=None``: the funding series), or None."""
        if timeframe is None:
            folder, kind = self.funding_dir(venue, symbol), "funding"
        else:
            folder, kind = self.candles_dir(venue, symbol, timeframe), "candles"
        if not layout.partition_files(folder):
            return None
        return self._info(folder, kind)  # type: ignore[arg-type]

    def delete(self, venue: str, symbol: str, timeframe: str | None = None) -> list[Path]:
        """Remove one candle dataset, or (``timeframe=None``) every timeframe and the funding of
        the market. Returns the folders removed."""
        if timeframe is not None:
            targets = [self.candles_dir(venue, symbol, timeframe)]
        else:
            targets = [
                self.candles_dir(venue, symbol, "1m").parent,
                self.funding_dir(venue, symbol),
            ]
        removed = []
        for folder in targets:
            if folder.is_dir():
                shutil.rmtree(folder)
                removed.append(folder)
        return removed

    def total_bytes(self) -> int:
        if not self.root.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.root.rglob("*.parquet"))

    # ---- internals ----------------------------------------------------------------------------

    def _missing_message(self, venue: str, symbol: str, timeframe: str) -> str:
        stored = self.timeframes(venue, symbol)
        text = f"no {timeframe} candles stored for {symbol} on {venue} in {self.root}"
        if stored:
            text += f" (stored timeframes: {', '.join(stored)}; `spark-stacker data resample`)"
        else:
            text += " (import or download some: `spark-stacker data import|download`)"
        return text

    def _dataset_dirs(self, kind: Kind) -> Iterator[Path]:
        base = self.root / kind
        depth = "venue=*/symbol=*/timeframe=*" if kind == "candles" else "venue=*/symbol=*"
        for folder in sorted(base.glob(depth)):
            if folder.is_dir() and layout.partition_files(folder):
                yield folder

    def _read(
        self,
        folder: Path,
        kind: str,
        schema: pa.Schema,
        start: int | None,
        end: int | None,
    ) -> pd.DataFrame:
        files = layout.overlapping(layout.partition_files(folder), kind, start, end)
        if not files:
            return pd.DataFrame()
        table = pa.concat_tables([pq.read_table(p, schema=schema) for p in files])
        frame = table.to_pandas()
        ms = datetimes_to_ms(frame["timestamp"])
        keep = np.ones(len(frame), dtype=bool)
        if start is not None:
            keep &= ms >= start
        if end is not None:
            keep &= ms < end
        return frame[keep].reset_index(drop=True)

    def _timestamps(self, folder: Path) -> np.ndarray:
        files = layout.partition_files(folder)
        if not files:
            return np.empty(0, dtype="int64")
        parts = [
            pq.read_table(p, columns=["timestamp"]).column("timestamp").cast(pa.int64()).to_numpy()
            for p in files
        ]
        return np.concatenate(parts).astype("int64")

    def _write(
        self,
        kind: Kind,
        venue: str,
        symbol: str,
        timeframe: str | None,
        folder: Path,
        batch: pd.DataFrame,
        duplicates: int,
        *,
        synthetic: bool,
        source: str,
        step_ms: int | None,
    ) -> WriteReport:
        meta = layout.read_json(folder / layout.META_FILE) or {}
        existing_files = layout.partition_files(folder)
        replace_all = False
        if existing_files and batch.empty:
            synthetic = bool(meta.get("synthetic", False))  # an empty write changes nothing
        if existing_files and bool(meta.get("synthetic")) != synthetic:
            if synthetic:
                raise DataError(
                    f"{venue} {symbol} {timeframe or 'funding'} holds real data; synthetic sample "
                    "data is never written over it"
                )
            replace_all = True  # real data supersedes a synthetic sample
        period = layout.period_kind(None if step_ms is None else step_ms // 1000)
        schema = CANDLE_SCHEMA if kind == "candles" else FUNDING_SCHEMA
        merge = self._merge(folder, batch, period, replace_all, kind)
        written = self._commit(folder, merge.tables, schema, existing_files if replace_all else [])
        ts = self._timestamps(folder)
        if kind == "candles":
            assert step_ms is not None
            gaps = find_gaps(ts, step_ms)
        else:
            funding = self._read(folder, "Y", FUNDING_SCHEMA, None, None)
            gaps = find_funding_gaps(ts, funding["interval_seconds"].to_numpy())
        batch_ms = datetimes_to_ms(batch["timestamp"]) if len(batch) else np.empty(0, "int64")
        summary = {
            "version": 1,
            "kind": kind,
            "venue": venue,
            "symbol": symbol,
            "timeframe": timeframe,
            "synthetic": synthetic,
            "source": source or (meta.get("source", "") if not replace_all else ""),
            "rows": int(ts.size),
            "first": int(ts[0]) if ts.size else None,
            "last": int(ts[-1]) if ts.size else None,
            "gaps": len(gaps),
            "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        layout.write_json_atomic(folder / layout.META_FILE, summary)
        return WriteReport(
            kind=kind,
            venue=venue,
            symbol=symbol,
            timeframe=timeframe,
            rows_in=len(batch) + duplicates,
            rows_added=merge.added,
            rows_replaced=merge.replaced,
            rows_unchanged=merge.unchanged,
            duplicates_in_input=duplicates,
            first=int(batch_ms[0]) if batch_ms.size else None,
            last=int(batch_ms[-1]) if batch_ms.size else None,
            total_rows=int(ts.size),
            gaps=tuple(gaps),
            partitions=tuple(written),
            synthetic=synthetic,
            replaced_synthetic=replace_all,
        )

    def _merge(
        self, folder: Path, batch: pd.DataFrame, period: str, replace_all: bool, kind: Kind
    ) -> _Merge:
        merge = _Merge()
        if batch.empty:
            return merge
        schema = CANDLE_SCHEMA if kind == "candles" else FUNDING_SCHEMA
        columns = list(CANDLE_COLUMNS if kind == "candles" else FUNDING_COLUMNS)
        batch_ms = datetimes_to_ms(batch["timestamp"])
        keys = layout.period_keys(batch_ms, period)
        for key in np.unique(keys):
            name = layout.period_name(int(key), period)
            part = batch[keys == key].reset_index(drop=True)
            path = folder / f"{name}.parquet"
            if path.is_file() and not replace_all:
                old = pq.read_table(path, schema=schema).to_pandas()
            else:
                old = pd.DataFrame(columns=columns)
            new_key = _merge_keys(kind, part["timestamp"])
            old_key = _merge_keys(kind, old["timestamp"]) if len(old) else np.empty(0, "int64")
            overlap = np.isin(old_key, new_key)
            if overlap.any():
                before = old[overlap].sort_values("timestamp").reset_index(drop=True)
                after = part[np.isin(new_key, old_key[overlap])].reset_index(drop=True)
                same = datetimes_to_ms(before["timestamp"]) == datetimes_to_ms(after["timestamp"])
                for column in columns[1:]:
                    same &= before[column].to_numpy() == after[column].to_numpy()
                merge.unchanged += int(same.sum())
                merge.replaced += int((~same).sum())
            merge.added += int(len(part) - overlap.sum())
            kept = old[~overlap]
            combined = part if kept.empty else pd.concat([kept, part], ignore_index=True)
            combined = combined.sort_values("timestamp", kind="stable").reset_index(drop=True)
            if np.any(np.diff(datetimes_to_ms(combined["timestamp"])) <= 0):  # never expected
                raise DataError(f"{path}: timestamps would not be unique after the merge")
            merge.tables[str(name)] = combined[columns]
        return merge

    def _commit(
        self,
        folder: Path,
        tables: dict[str, pd.DataFrame],
        schema: pa.Schema,
        obsolete: list[Path],
    ) -> list[str]:
        """Write every touched partition to a temporary file, then rename them all into place."""
        folder.mkdir(parents=True, exist_ok=True)
        staged: list[tuple[Path, Path]] = []
        try:
            for name, table in tables.items():
                final = folder / f"{name}.parquet"
                tmp = layout.temp_path(final)
                staged.append((tmp, final))
                arrow = pa.Table.from_pandas(table, schema=schema, preserve_index=False)
                pq.write_table(arrow, tmp, **PARQUET_OPTIONS)
            for tmp, final in staged:
                os.replace(tmp, final)
        finally:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
        finals = {final for _, final in staged}
        for path in obsolete:
            if path not in finals:
                path.unlink(missing_ok=True)
        return sorted(tables)

    def _info(self, folder: Path, kind: Kind) -> DatasetInfo:
        files = layout.partition_files(folder)
        meta = layout.read_json(folder / layout.META_FILE)
        if kind == "candles":
            venue = layout.decode(folder.parent.parent.name)
            symbol = layout.decode(folder.parent.name)
            timeframe: str | None = layout.decode(folder.name)
        else:
            venue, symbol, timeframe = (
                layout.decode(folder.parent.name),
                layout.decode(folder.name),
                None,
            )
        if meta is None or "rows" not in meta:  # files copied in by hand: summarise them now
            ts = self._timestamps(folder)
            if kind == "candles" and timeframe is not None:
                gap_count = len(find_gaps(ts, _step_ms(timeframe)))
            else:
                funding = self._read(folder, "Y", FUNDING_SCHEMA, None, None)
                gap_count = len(find_funding_gaps(ts, funding["interval_seconds"].to_numpy()))
            meta = {
                **(meta or {}),
                "rows": int(ts.size),
                "first": int(ts[0]) if ts.size else None,
                "last": int(ts[-1]) if ts.size else None,
                "gaps": gap_count,
            }
        return DatasetInfo(
            kind=kind,
            venue=venue,
            symbol=symbol,
            timeframe=timeframe,
            rows=int(meta["rows"]),
            first=meta.get("first"),
            last=meta.get("last"),
            gaps=int(meta.get("gaps", 0)),
            synthetic=bool(meta.get("synthetic", False)),
            source=str(meta.get("source", "")),
            bytes=sum(p.stat().st_size for p in files),
            files=len(files),
            path=folder,
        )


def datetimes_or_ms(values: pd.Series) -> np.ndarray:
    """Timestamps given as datetimes or as int64 epoch ms, as int64 epoch ms."""
    series = pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(series):
        return datetimes_to_ms(series)
    if pd.api.types.is_integer_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype="int64")
    raise DataError(f"timestamp column has type {series.dtype}; expected datetimes or epoch ms")


def _merge_keys(kind: Kind, timestamps: pd.Series) -> np.ndarray:
    """What makes two rows "the same row": the bar open for candles, the print time rounded
    to the nearest second for funding (see ``write_funding``)."""
    ms = datetimes_to_ms(timestamps)
    if kind == "candles":
        return ms
    return (ms + FUNDING_SNAP_MS // 2) // FUNDING_SNAP_MS


def bar_frame(candles: pd.DataFrame, timeframe: str, funding: pd.DataFrame | None) -> BarFrame:
    """Build a BarFrame from canonical candles and (optionally) funding prints."""
    ts = datetimes_to_ms(candles["timestamp"]) if len(candles) else np.empty(0, "int64")
    aligned = None
    if funding is not None and len(funding):
        aligned = align_funding(
            ts,
            _step_ms(timeframe),
            datetimes_to_ms(funding["timestamp"]),
            funding["rate"].to_numpy(dtype="float64"),
        )
    return BarFrame(
        timeframe=timeframe,
        timestamp=ts,
        open=candles["open"].to_numpy(dtype="float64"),
        high=candles["high"].to_numpy(dtype="float64"),
        low=candles["low"].to_numpy(dtype="float64"),
        close=candles["close"].to_numpy(dtype="float64"),
        volume=candles["volume"].to_numpy(dtype="float64"),
        funding=aligned,
    )
