"""`shipyard doctor`: check what Shipyard needs, say what is wrong and how to fix it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, app, session

if TYPE_CHECKING:
    from shipyard.domain.diagnosis import Diagnosis

MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skipped": "skip"}


@app.command("doctor")
def doctor_command(
    ctx: typer.Context,
    environment: Annotated[str | None, typer.Argument(
        help="Also check this environment: its service, deployments, stopped tasks and "
        "logs, target health, CodeDeploy and task definition.", show_default=False)] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check the configuration, git, the builder, AWS credentials, the clock, the ECR
    repository and login, the GitHub Actions job and (with ENV) an environment, in order;
    each problem with its cause and fix. Writes nothing; exit 20 when a check fails."""
    from shipyard.errors import DiagnosisError
    from shipyard.usecases.doctor import DoctorOptions, run_doctor

    state = session(ctx)
    diagnosis = run_doctor(DoctorOptions(state.project_dir, environment), state.context,
                           state.env)
    out = Out(as_json)
    if as_json:
        out.json(diagnosis.to_json())
    else:
        print_diagnosis(diagnosis, out)
    if diagnosis.failed:
        failed = ", ".join(f"{c.group}/{c.name}" for c in diagnosis.failed)
        raise DiagnosisError(f"{len(diagnosis.failed)} check(s) failed ({failed}); each "
                             "one's fix is in the checklist")


def print_diagnosis(diagnosis: Diagnosis, out: Out) -> None:
    group = ""
    for check in diagnosis.checks:
        if check.group != group:
            group = check.group
            out.line(f"{group}:")
        out.line(f"  {MARKS[check.status]} {check.name}: {check.detail}")
        for line in check.evidence:
            out.line(f"       {line}")
        if check.fix and check.status in ("warn", "fail"):
            out.line(f"       fix: {check.fix}")
    counts = diagnosis.counts()
    out.line(", ".join(f"{n} {status}" for status, n in counts.items()))
