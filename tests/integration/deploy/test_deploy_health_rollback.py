"""A blue/green deploy that CodeDeploy calls a success, but whose service then does not serve
the version deployed, fails its health check and is rolled back by a new deployment of the
previous revision."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

DEPLOYMENT_FAILED = 15


def test_a_failed_health_check_after_blue_green_redeploys_the_previous_version(
        world, shipyard) -> None:
    for version in ("1.1.0", "1.2.0"):
        world.push(shipyard, version)
    for environment in ("staging", "production"):
        done = world.run(shipyard, "deploy", environment, "--version", "1.1.0")
        assert done.code == 0, done.out + done.err
    # The health check of production asks the staging listener, which serves 1.1.0: the
    # check after deploying 1.2.0 hears the wrong version, as from a misrouted load balancer.
    variable = f"SHIPYARD_LISTENER_{world.name.upper()}_80"
    result = world.run(shipyard, "deploy", "production", "--version", "1.2.0",
                       env={variable: world.url(8081)})
    assert result.code == DEPLOYMENT_FAILED, result.out + result.err
    assert "the health check after the deployment failed" in result.err
    assert "rolled back" in result.err
    assert "a new deployment of the previous revision" in result.err
    assert world.served_version(80) == "1.1.0"
    assert world.running_image("production") == world.push(shipyard, "1.1.0")
