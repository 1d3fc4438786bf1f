"""The deploy tests' world itself: what every deploy test stands on."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_the_world_starts_with_no_tasks_and_pushes_versions(world, shipyard) -> None:
    staging = world.service("staging")
    assert staging["desiredCount"] == 0
    assert world.service("production")["deploymentController"]["type"] == "CODE_DEPLOY"
    image = world.push(shipyard, "1.1.0")
    assert "@sha256:" in image
    assert world.served_version(8081) is None  # nothing runs behind the listener yet
