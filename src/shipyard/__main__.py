"""`python -m shipyard` runs the CLI."""

from shipyard.entry import run

raise SystemExit(run())
