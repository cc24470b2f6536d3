"""The simulated venue used by backtests and paper runs (``exchanges.sim``).

``exchange.SimExchange`` implements the ``Exchange`` protocol; ``options`` (settings),
``validation`` (pre-trade checks), ``arrival`` (what a live order does), ``matching`` (bars, the
intrabar path, books), ``execution`` (fills, cancels, liquidation), ``funding``, ``ledger``
(Decimal money), ``state`` (float hot-loop state), ``latency`` and ``messages`` (venue strings).
See docs/simulation.md.
"""
