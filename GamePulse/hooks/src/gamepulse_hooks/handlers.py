"""The Lambda handlers CodeDeploy invokes, with {"DeploymentId", "LifecycleEventHookExecutionId"}.

Whatever happens in the checks, the handler reports: Failed when a check failed or could not
run (an AWS error, an AppSpec it cannot read, a bug) or did not finish in time, Succeeded
otherwise, so CodeDeploy never waits out its hour-long hook timeout on us. The checks run in a
thread given the function's time less REPORT_RESERVE seconds; when that passes, the handler
stops waiting for them and reports Failed, and the report's own call is bounded well within
the reserve (REPORT_SETTINGS). Only when the report itself cannot be made (CodeDeploy refuses
it) does the handler raise, and the error is in the function's log.

Environment: TEST_URL (AfterAllowTestTraffic), PRODUCTION_URL (AfterAllowTraffic), both the
load balancer's listener URLs; ECR_REGISTRY (extra registry hosts that are this account's
ECR, comma-separated); HTTP_TIMEOUT (seconds per request, default 5).
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from gamepulse_hooks import images, preflight, smoke
from gamepulse_hooks.checks import CheckFailed, Findings
from gamepulse_hooks.deployment import container, read_target, task_definition
from gamepulse_hooks.http import Http

REPORT_RESERVE = 20.0  # seconds of the function's time kept for the report
AWS_CALL_SETTINGS: dict[str, Any] = {"connect_timeout": 5, "read_timeout": 15,
                                     "retries": {"max_attempts": 3, "mode": "standard"}}
# The report: at most 2 attempts of 3 + 5 seconds, inside REPORT_RESERVE.
REPORT_SETTINGS: dict[str, Any] = {"connect_timeout": 3, "read_timeout": 5,
                                   "retries": {"max_attempts": 2, "mode": "standard"}}


def client(service: str, settings: dict[str, Any] = AWS_CALL_SETTINGS) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(service, config=Config(**settings))


def registry_hosts(context: Any) -> set[str]:
    account = str(context.invoked_function_arn).split(":")[4]
    return images.ecr_hosts(account, os.environ.get("AWS_REGION", ""),
                            os.environ.get("ECR_REGISTRY", ""))


def budget(context: Any) -> float:
    """Seconds the checks may take: the function's time left, less the report's reserve."""
    return max(context.get_remaining_time_in_millis() / 1000.0 - REPORT_RESERVE, 1.0)


def deadline(context: Any) -> float:
    return time.monotonic() + budget(context)


def _checked(checks: Callable[[Any], Findings], codedeploy: Any) -> Findings:
    try:
        return checks(codedeploy)
    except CheckFailed as exc:
        findings = Findings()
        findings.fail(str(exc))
    except Exception as exc:  # any failure to check is a failed check, reported as such
        traceback.print_exc()
        findings = Findings()
        findings.fail(f"the checks could not run: {type(exc).__name__}: {exc}")
    return findings


def run(event: dict[str, Any], checks: Callable[[Any], Findings],
        context: Any) -> dict[str, Any]:
    """Run `checks` for at most `budget(context)` seconds, print and report the verdict;
    returns {"status", "lines"}."""
    deployment_id = event["DeploymentId"]
    execution_id = event["LifecycleEventHookExecutionId"]
    allowed = budget(context)
    done: list[Findings] = []
    worker = threading.Thread(target=lambda: done.append(_checked(checks, client(
        "codedeploy"))), name="checks", daemon=True)
    worker.start()
    worker.join(allowed)
    if done:
        findings = done[0]
    else:  # still running: left behind, as Lambda freezes the process once we return
        findings = Findings()
        findings.fail(f"the checks did not finish within {allowed:.0f} s, the function's "
                      f"time less {REPORT_RESERVE:.0f} s for this report")
    status = "Failed" if findings.failed else "Succeeded"
    for line in findings.lines:
        print(line)
    passed = sum(line.startswith("ok:") for line in findings.lines)
    print(f"{status}: {passed} passed, {findings.failed} failed; reporting to CodeDeploy "
          f"({deployment_id})")
    client("codedeploy", REPORT_SETTINGS).put_lifecycle_event_hook_execution_status(
        deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status=status)
    return {"status": status, "lines": findings.lines}


def expected_versions(codedeploy: Any, ecs: Any, ecr: Any, deployment_id: str,
                      hosts: set[str]) -> list[str]:
    """The versions the new tasks may report: the container's GAMEPULSE_VERSION when set,
    otherwise the version tags of its image in ECR (with and without a leading `v`)."""
    target = read_target(codedeploy, deployment_id)
    app = container(task_definition(ecs, target), target.container_name)
    if app is None:
        raise CheckFailed(f"the task definition has no container {target.container_name}")
    explicit = images.environment_value(app, "GAMEPULSE_VERSION")
    if explicit:
        return [explicit]
    ref = images.parse_image(str(app.get("image", "")))
    detail = images.describe(ecr, ref) if ref.host in hosts else None
    tags = images.version_tags(detail) if detail else []
    if not tags:
        raise CheckFailed(f"cannot tell the version being deployed: {app.get('image')} has "
                          "no X.Y.Z tag in this account's ECR and the container sets no "
                          "GAMEPULSE_VERSION")
    return sorted({form for tag in tags for form in (tag, tag.removeprefix("v"))})


def _url(name: str) -> str:
    url = os.environ.get(name, "")
    if not url.startswith(("http://", "https://")):
        raise CheckFailed(f"{name} is not set to the listener's URL (http://HOST:PORT)")
    return url


def _timeout() -> float:
    try:
        return max(1.0, float(os.environ.get("HTTP_TIMEOUT", "5")))
    except ValueError:
        return 5.0


def before_install(event: dict[str, Any], context: Any) -> dict[str, Any]:
    def checks(codedeploy: Any) -> Findings:
        target = read_target(codedeploy, event["DeploymentId"])
        definition = task_definition(client("ecs"), target)
        clients = preflight.Clients(client("ecr"), client("secretsmanager"), client("ssm"))
        return preflight.preflight(clients, definition, target, registry_hosts(context))

    return run(event, checks, context)


def _listener_checks(event: dict[str, Any], context: Any, variable: str,
                     kind: Callable[[Http, list[str], str], Findings]
                     ) -> Callable[[Any], Findings]:
    def checks(codedeploy: Any) -> Findings:
        url = _url(variable)
        expected = expected_versions(codedeploy, client("ecs"), client("ecr"),
                                     event["DeploymentId"], registry_hosts(context))
        http = Http(url, timeout=_timeout(), deadline=deadline(context))
        findings = kind(http, expected, event["DeploymentId"])
        findings.lines.insert(0, f"checked through {variable}={url}, expecting version "
                                 f"{' or '.join(expected)}")
        return findings

    return checks


def after_allow_test_traffic(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run(event, _listener_checks(event, context, "TEST_URL", smoke.smoke), context)


def after_allow_traffic(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run(event, _listener_checks(event, context, "PRODUCTION_URL", smoke.end_to_end),
               context)
