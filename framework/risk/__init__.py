"""Risk: pre-trade checks on every order and the account-level governor."""
