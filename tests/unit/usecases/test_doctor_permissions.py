"""Doctor's permission checks: the simulator's decisions per command, and "cannot tell"
where the simulator cannot be asked."""

from __future__ import annotations

import pytest

from shipyard.domain.diagnosis import Diagnosis, Group
from shipyard.errors import AwsError
from shipyard.usecases.context import Context
from shipyard.usecases.doctor.permissions import (
    COMMAND_ACTIONS,
    check_permissions,
    principal_of,
)


class FakeIam:
    def __init__(self, denied: set[str] = frozenset(), refuse: bool = False) -> None:
        self.denied, self.refuse, self.asked = denied, refuse, []

    def simulate(self, principal: str, actions: list[str], resources: list[str]):
        self.asked.append(principal)
        if self.refuse:
            raise AwsError("iam:SimulatePrincipalPolicy failed: AccessDenied: no; grant it")
        return {a: "implicitDeny" if a in self.denied else "allowed" for a in actions}


def run(iam: FakeIam, caller: str) -> Diagnosis:
    diagnosis = Diagnosis()
    check_permissions(Group("permissions", diagnosis), Context(env={}, region="us-east-1",
                                                               iam=iam), caller)
    return diagnosis


ROLE = "arn:aws:sts::123456789012:assumed-role/deploy/GitHubActions"


def test_every_command_allowed() -> None:
    iam = FakeIam()
    diagnosis = run(iam, ROLE)
    assert {c.status for c in diagnosis.checks} == {"ok"}
    assert len(diagnosis.checks) == len(COMMAND_ACTIONS)
    assert iam.asked == ["arn:aws:iam::123456789012:role/deploy"]


def test_a_denied_action_fails_the_commands_that_need_it() -> None:
    diagnosis = run(FakeIam(denied={"kms:Sign"}), ROLE)
    failed = [c for c in diagnosis.checks if c.status == "fail"]
    assert [c.name for c in failed] == ["permissions: sign and sbom"]
    assert "kms:Sign" in failed[0].detail and failed[0].fix


def test_without_the_simulator_it_says_it_cannot_tell() -> None:
    diagnosis = run(FakeIam(refuse=True), ROLE)
    [check] = diagnosis.checks
    assert check.status == "skipped" and check.detail.startswith("cannot tell")


@pytest.mark.parametrize(("caller", "principal"), [
    ("arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/alice"),
    (ROLE, "arn:aws:iam::123456789012:role/deploy"),
    ("arn:aws:iam::123456789012:root", None),
    ("not an arn", None),
])
def test_the_principal_the_simulator_takes(caller: str, principal: str | None) -> None:
    assert principal_of(caller) == principal

