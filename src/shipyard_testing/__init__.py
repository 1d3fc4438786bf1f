"""What Shipyard's tests and benchmarks share, and nothing the product runs.

It lives under src/ so that both import it the same plain way (the tests through the editable
install, the benchmarks through the `src` folder they already put on `sys.path`) without
either reaching into the other's folder. `shipyard` and `shipyard_sandbox` never import it
(tests/unit/test_layers.py checks), and the built wheel leaves it out (pyproject.toml).

- `oci_layouts`: small but real OCI image layouts written to disk.
- `rebuilt_layers`: layers rebuilt the way a builder does, for base-layer reuse tests.
- `broken_layouts`: each way an OCI layout can be broken, applied to a good one.
- `bad_inputs`: the bad-input corpus's case table and its "nothing written" checks.
- `fault_proxy`: an HTTP proxy in front of a registry that injects faults (error answers,
  resets, lost and cut answers, stalls, bit flips), by rule or on a seeded schedule.
- `readme_examples`: the README's shell examples, its markers, and output comparison.
- `gamepulse_infra`: boto3 clients on a test sandbox, and GamePulse's template provisioned
  in it.
- `http_servers`: HTTP servers in a thread on a free loopback port, the real GamePulse app
  among them.

The registry the tests and benchmarks start is the sandbox's own launcher,
`shipyard_sandbox.registry.RegistryProcess`, so there is one registry configuration.
"""
