"""Adapters: one module per outside system; their errors become ours at this boundary."""
