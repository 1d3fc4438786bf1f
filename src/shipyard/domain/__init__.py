"""The domain: pure rules (versions, tag plans), fast to test, no I/O."""
