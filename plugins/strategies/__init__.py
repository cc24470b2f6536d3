"""Built-in strategies: the rule strategy and the market maker."""
