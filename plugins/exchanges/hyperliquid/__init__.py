"""Hyperliquid adapter built on hyperliquid-python-sdk."""
