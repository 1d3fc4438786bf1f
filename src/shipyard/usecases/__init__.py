"""Use cases: one module per command, each an options object and one entry function."""
