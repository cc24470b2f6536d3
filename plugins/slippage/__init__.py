"""Built-in slippage models for the simulated venue."""
