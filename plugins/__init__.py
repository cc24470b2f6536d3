"""Built-in plugins. Each is registered through the ``sparkstacker`` entry-point group exactly as
a third-party plugin would be, and none imports another."""
