"""The engine: one event loop from market data to fills, shared by backtest, paper and live runs.

Only the clock and the venue differ between modes. Flow: market data → strategy decisions →
sizing → pre-trade risk → order manager (state machine, write-ahead journal) → venue → fills →
positions → position monitor → plugins' lifecycle hooks.
"""
