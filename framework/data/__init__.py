"""Market data: the candle/funding store, importers, resampling, gaps, downloads, sample data.

``CandleStore`` keeps partitioned Parquet under ``Settings().data_dir``; ``load_frame`` is what
backtests and runs call to get bars (stored, resampled, or the clearly labelled synthetic
sample). See docs/data.md.
"""

from sparkstacker.data.gaps import Gap, find_gaps
from sparkstacker.data.resample import ResampleResult, resample_candles
from sparkstacker.data.source import DataOrigin, load_frame
from sparkstacker.data.store import CandleStore, DatasetInfo, WriteReport

__all__ = [
    "CandleStore",
    "DataOrigin",
    "DatasetInfo",
    "Gap",
    "ResampleResult",
    "WriteReport",
    "find_gaps",
    "load_frame",
    "resample_candles",
]
