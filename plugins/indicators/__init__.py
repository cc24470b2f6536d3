"""Built-in indicators: every TA-Lib function plus custom book/funding/volatility ones."""
