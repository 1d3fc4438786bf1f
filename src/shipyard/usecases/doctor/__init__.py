"""`shipyard doctor`: the troubleshooting guide as checks that find the cause and say the fix.

Groups run in order, each check reading only (no repository made, no login file written, no
tag): `local` (the configuration, the git repository, the builder), `aws` (credentials, the
endpoint, the clock, the repository and the registry login: the brief's "ECR login failure"),
`ci` (the GitHub Actions job) and, for an environment named, `environment` (the brief's
"deploy failure": the service, its deployments, stopped tasks and logs, target health,
CodeDeploy, the task definition's resources). A check whose prerequisite failed is skipped,
saying which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shipyard.domain.diagnosis import Diagnosis, Group
from shipyard.usecases.context import Context
from shipyard.usecases.doctor.aws import check_aws
from shipyard.usecases.doctor.ci import check_ci
from shipyard.usecases.doctor.environment import check_environment
from shipyard.usecases.doctor.local import check_local
from shipyard.usecases.doctor.permissions import check_permissions


@dataclass(frozen=True)
class DoctorOptions:
    project_dir: Path
    environment: str | None = None


def run_doctor(options: DoctorOptions, make_context: Callable[..., Context],
               env: dict[str, str]) -> Diagnosis:
    """Every check, in order; the outcome is data (the CLI decides the exit code)."""
    diagnosis = Diagnosis()
    local = Group("local", diagnosis)
    config = check_local(local, options.project_dir, env)
    ctx, caller = check_aws(Group("aws", diagnosis), config, make_context)
    check_ci(Group("ci", diagnosis), options.project_dir, env)
    environment = Group("environment", diagnosis)
    if options.environment is None:
        environment.skip("environment", "name one to check it: shipyard doctor ENV")
    else:
        check_environment(environment, options.environment, config, ctx)
    check_permissions(Group("permissions", diagnosis), ctx, caller)
    return diagnosis
