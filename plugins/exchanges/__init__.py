"""Exchange adapters: the simulated venue and real venues."""
