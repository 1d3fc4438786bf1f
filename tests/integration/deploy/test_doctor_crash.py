"""`shipyard doctor staging` when staging's tasks crash: its first deploy is an image that
exits, so nothing runs; doctor fails the stopped-tasks check with each task's stopped
reason, the container's exit code and its last log lines. This module has its own world."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

DEPLOYMENT_FAILED, DIAGNOSIS = 15, 20


def test_crashing_tasks_show_their_reason_exit_code_and_log_lines(world, shipyard) -> None:
    failed = world.run(shipyard, "deploy", "staging", "--image",
                       world.push(shipyard, "1.1.0", "exits"))
    assert failed.code == DEPLOYMENT_FAILED, failed.out + failed.err
    checked = world.run(shipyard, "doctor", "staging", "--json")
    assert checked.code == DIAGNOSIS, checked.out + checked.err
    stopped = next(c for c in json.loads(checked.out)["checks"]
                   if c["group"] == "environment" and c["name"] == "stopped tasks")
    assert stopped["status"] == "fail", stopped
    assert "crashed" in stopped["detail"] and "shipyard verify" in stopped["fix"]
    evidence = stopped["evidence"]
    assert any(line.startswith("task ") and "stopped: " in line for line in evidence), evidence
    assert any("exit code" in line for line in evidence), evidence
    assert any(line.lstrip().startswith("| ") for line in evidence), evidence  # its logs
