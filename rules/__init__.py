"""Trader-facing rule files shipped with Spark Stacker (examples and the portfolio limits)."""
