"""BeforeInstall: the pre-flight checks of the task definition being deployed."""

from __future__ import annotations

import threading

import pytest
from gamepulse_hooks import handlers
from gamepulse_hooks.deployment import appspec_fields
from hooks_fakes import DIGEST, REGISTRY, SECRET, FakeAws, FakeContext, definition

EVENT = {"DeploymentId": "d-ABCDEFGHI", "LifecycleEventHookExecutionId": "exec-1"}


def run(aws: FakeAws) -> dict:
    result = handlers.before_install(EVENT, FakeContext())
    assert aws.reported == [{"deploymentId": "d-ABCDEFGHI",
                             "lifecycleEventHookExecutionId": "exec-1",
                             "status": result["status"]}]
    return result


def failures(result: dict) -> list[str]:
    return [line for line in result["lines"] if line.startswith("FAILED")]


def test_a_good_definition_succeeds(aws: FakeAws) -> None:
    result = run(aws)
    assert result["status"] == "Succeeded", result["lines"]
    assert result["lines"] == [
        "ok: task definition gamepulse-production:7 is ACTIVE",
        "ok: container gamepulse maps port 8080",
        "ok: image of gamepulse is in ECR with linux/arm64 (it has amd64, arm64)",
        "not checked: image of otel-collector, public.ecr.aws/aws-observability/"
        "aws-otel-collector:v0.43.1: outside this account's ECR",
        "ok: secret GAMEPULSE_API_KEY of gamepulse: gamepulse/production/app exists"]


def test_a_missing_secret_fails_with_its_name(aws: FakeAws) -> None:
    aws.secrets.clear()
    result = run(aws)
    assert result["status"] == "Failed"
    assert failures(result) == [f"FAILED: secret GAMEPULSE_API_KEY of gamepulse: {SECRET} "
                                "does not exist"]


def test_a_secret_scheduled_for_deletion_fails(aws: FakeAws) -> None:
    aws.secrets[SECRET]["DeletedDate"] = "2026-11-30T00:00:00Z"
    assert failures(run(aws)) == ["FAILED: secret GAMEPULSE_API_KEY of gamepulse: "
                                  "gamepulse/production/app exists but is scheduled for deletion"]


def test_a_parameter_store_secret_is_looked_up_by_name(aws: FakeAws) -> None:
    app = definition()["containerDefinitions"][0]
    app["secrets"] = [{"name": "A", "valueFrom": "arn:aws:ssm:ap-northeast-2:123456789012:"
                                                 "parameter/gamepulse/production/a"},
                      {"name": "B", "valueFrom": "plain-name"}]
    aws.task_definition = definition(containerDefinitions=[app])
    aws.parameters = {"/gamepulse/production/a"}
    assert failures(run(aws)) == ["FAILED: secret B of gamepulse: parameter plain-name does "
                                  "not exist"]


def test_an_image_missing_from_ecr_fails(aws: FakeAws) -> None:
    aws.images.clear()
    assert failures(run(aws)) == [f"FAILED: image of gamepulse, {REGISTRY}/gamepulse@{DIGEST}: "
                                  "not in ECR (push it first)"]


def test_an_index_without_the_tasks_architecture_fails(aws: FakeAws) -> None:
    aws.manifests[DIGEST]["manifests"].pop()  # amd64 only; production runs on ARM64
    assert failures(run(aws)) == ["FAILED: image of gamepulse is in ECR with linux/arm64 (it "
                                  "has amd64)"]


def test_a_single_platform_image_is_found_and_its_platform_noted(aws: FakeAws) -> None:
    aws.manifests[DIGEST] = {"config": {"digest": "sha256:c"}, "layers": []}
    result = run(aws)
    assert result["status"] == "Succeeded"
    assert "one platform, which its manifest does not name" in result["lines"][2]


def test_the_registry_alias_counts_as_ecr(aws: FakeAws, monkeypatch: pytest.MonkeyPatch) -> None:
    app = definition()["containerDefinitions"][0]
    app["image"] = f"127.0.0.1:5000/gamepulse@{DIGEST}"
    aws.task_definition = definition(containerDefinitions=[app])
    assert "not checked: image of gamepulse" in run(aws)["lines"][2]
    aws.reported.clear()
    monkeypatch.setenv("ECR_REGISTRY", "127.0.0.1:5000")
    assert run(aws)["lines"][2].startswith("ok: image of gamepulse is in ECR")


def test_the_appspec_container_must_be_in_the_definition(aws: FakeAws) -> None:
    aws.appspec = aws.appspec.replace("ContainerPort: 8080", "ContainerPort: 9090")
    aws.task_definition = definition(status="INACTIVE")
    assert failures(run(aws)) == ["FAILED: task definition gamepulse-production:7 is INACTIVE",
                                  "FAILED: container gamepulse maps port 9090"]


def test_an_unreadable_appspec_reports_failed(aws: FakeAws) -> None:
    aws.appspec = "version: 0.0\nResources: []\n"
    assert failures(run(aws)) == ["FAILED: the AppSpec of deployment d-ABCDEFGHI has no "
                                  "TaskDefinition, ContainerName, ContainerPort"]


def test_an_s3_revision_is_refused_with_the_reason(aws: FakeAws) -> None:
    aws.revision_type = "S3"
    assert "read AppSpecContent or String revisions only" in failures(run(aws))[0]


def test_an_aws_error_still_reports_failed(aws: FakeAws, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    def denied(**kwargs: str) -> None:
        raise PermissionError("AccessDeniedException: not authorized to DescribeTaskDefinition")

    monkeypatch.setattr(aws, "describe_task_definition", denied)
    assert failures(run(aws)) == ["FAILED: the checks could not run: PermissionError: "
                                  "AccessDeniedException: not authorized to "
                                  "DescribeTaskDefinition"]
    printed = capsys.readouterr().out
    assert "Failed: 0 passed, 1 failed; reporting to CodeDeploy (d-ABCDEFGHI)" in printed


def test_json_and_yaml_appspecs_read_alike() -> None:
    json_text = ('{"version": 0.0, "Resources": [{"TargetService": {"Type": '
                 '"AWS::ECS::Service", "Properties": {"TaskDefinition": "arn:td:1", '
                 '"LoadBalancerInfo": {"ContainerName": "app", "ContainerPort": 80}}}}]}')
    yaml_text = ("Resources:\n  - TargetService:\n      Properties:\n"
                 "        TaskDefinition: 'arn:td:1'\n        LoadBalancerInfo:\n"
                 "          ContainerName: \"app\"  # the web container\n"
                 "          ContainerPort: 80\n")
    expected = {"TaskDefinition": "arn:td:1", "ContainerName": "app", "ContainerPort": "80"}
    assert appspec_fields(json_text) == appspec_fields(yaml_text) == expected


def test_checks_that_do_not_finish_in_time_are_reported_failed(
        aws: FakeAws, monkeypatch: pytest.MonkeyPatch) -> None:
    """A call that hangs: the report still goes out when the function's time (less the
    report's reserve) is up, rather than never."""
    release = threading.Event()
    answer = aws.describe_task_definition

    def hangs(**kwargs: str) -> dict:
        release.wait(60)
        return answer(**kwargs)

    monkeypatch.setattr(aws, "describe_task_definition", hangs)
    try:
        context = FakeContext(remaining_ms=int(handlers.REPORT_RESERVE * 1000))  # 1 s left
        result = handlers.before_install(EVENT, context)
    finally:  # the left-behind checks end on the fakes, before they are taken away
        release.set()
        for thread in threading.enumerate():
            if thread.name == "checks":
                thread.join(10)
    assert aws.reported[0]["status"] == "Failed"
    assert failures(result) == ["FAILED: the checks did not finish within 1 s, the "
                                "function's time less 20 s for this report"]
