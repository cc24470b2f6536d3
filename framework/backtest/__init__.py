"""Backtests on the live engine: the runner, metrics and reports.

A backtest is the engine with a simulated clock and simulated venues; ``--fast`` is a
vectorised path for research that refuses what it cannot simulate exactly.
"""
