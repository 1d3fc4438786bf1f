"""`shipyard ci github`: the generated workflow's jobs, triggers, permissions and guards, and
the command's --check and --output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from shipyard.cli import main
from shipyard.config import Config, load_config
from shipyard.errors import ConfigError
from shipyard.usecases.ci_github import github_workflow

ENVIRONMENTS = {
    "staging": {"cluster": "c", "service": "s-staging", "task_definition": "td.json"},
    "production": {"cluster": "c", "service": "s-production", "task_definition": "td.json",
                   "deployment": "blue_green", "require_approval": True},
}


def config(**ci: Any) -> Config:
    return Config.model_validate({"service": {"name": "svc", "region": "eu-west-1"},
                                  "environments": ENVIRONMENTS, "ci": ci})


def workflow(project: str = "svc", **ci: Any) -> dict[str, Any]:
    return yaml.safe_load(github_workflow(config(**ci), project).text)


def test_six_jobs_in_dependency_order() -> None:
    jobs = workflow()["jobs"]
    assert list(jobs) == ["test", "build", "deploy-staging", "deploy-production",
                          "integration", "cleanup"]
    assert jobs["build"]["needs"] == "test"
    assert jobs["deploy-staging"]["needs"] == "build"
    assert jobs["deploy-production"]["needs"] == ["build", "deploy-staging"]
    assert jobs["cleanup"]["if"] == "${{ always() }}"


def test_triggers() -> None:
    on = workflow(branches=["main", "develop", "trunk"], production_branches=["trunk"])[True]
    assert on["push"]["branches"] == ["main", "develop", "trunk"]
    assert on["push"]["paths"] == on["pull_request"]["paths"] == [
        "svc/**", ".github/workflows/svc-ci-cd.yml"]
    assert on["release"] == {"types": ["published"]}
    inputs = on["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"version", "environment"}
    assert inputs["environment"]["options"] == ["staging", "production"]


def test_least_permissions_and_a_timeout_on_every_job() -> None:
    w = workflow()
    assert w["permissions"] == {}
    for name, job in w["jobs"].items():
        assert isinstance(job["timeout-minutes"], int) and job["timeout-minutes"] > 0, name
        assert "permissions" in job, name
    writers = [n for n, j in w["jobs"].items() if j["permissions"].get("contents") == "write"]
    assert writers == ["build"]  # the job that pushes the release's git tag
    # cleanup deletes images through the deploy role (OIDC), and reads nothing else
    assert w["jobs"]["cleanup"]["permissions"] == {"contents": "read", "id-token": "write"}
    oidc = [n for n, j in w["jobs"].items() if j["permissions"].get("id-token") == "write"]
    assert oidc == ["build", "deploy-staging", "deploy-production", "integration", "cleanup"]


def test_deploys_queue_per_environment_and_are_never_cancelled() -> None:
    jobs = workflow()["jobs"]
    for job, environment in (("deploy-staging", "staging"), ("deploy-production", "production")):
        assert jobs[job]["environment"] == environment
        assert jobs[job]["concurrency"] == {"group": f"svc-deploy-{environment}",
                                            "cancel-in-progress": False}
        assert jobs[job]["env"]["SHIPYARD_IMAGE"] == "${{ needs.build.outputs.image }}"


def _runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_production_passes_yes_only_when_it_requires_approval() -> None:
    jobs = workflow()["jobs"]
    assert "shipyard deploy production --yes" in _runs(jobs["deploy-production"])
    assert "shipyard deploy staging" in _runs(jobs["deploy-staging"])


def test_build_outputs_carry_the_version_and_the_digest() -> None:
    build = workflow()["jobs"]["build"]
    assert build["outputs"] == {"version": "${{ steps.push.outputs.version || "
                                           "steps.version.outputs.version }}",
                                "image": "${{ steps.push.outputs.image }}",
                                "digest": "${{ steps.push.outputs.digest }}"}
    push = next(s for s in build["steps"] if s.get("id") == "push")
    assert push["if"] == "github.event_name != 'pull_request'"  # PRs never push


def test_aws_through_oidc_with_the_configured_role_variable() -> None:
    jobs = workflow(role_variable="DEPLOY_ROLE")["jobs"]
    aws = [s for j in jobs.values() for s in j["steps"]
           if "configure-aws-credentials" in s.get("uses", "")]
    assert len(aws) == 5  # build, both deploys, integration, cleanup
    for step in aws:
        assert step["with"] == {"role-to-assume": "${{ vars.DEPLOY_ROLE }}",
                                "aws-region": "eu-west-1"}


def test_a_service_at_the_repository_root_has_no_path_filter_nor_working_directory() -> None:
    w = workflow(project=".")
    assert "paths" not in w[True]["push"] and w[True]["pull_request"] == {}
    assert all("working-directory" not in j["defaults"]["run"] for j in w["jobs"].values())


@pytest.mark.parametrize(("ci", "project", "words"), [
    ({"staging": "qa"}, "svc", "ci.staging 'qa' is not an environment"),
    ({"production": "staging"}, "svc", "name the same environment"),
    ({"production_branches": ["release"]}, "svc", "which ci.branches does not trigger"),
    ({"branches": ["feature/*"]}, "svc", "not a pattern"),
    ({"workflow": "ci/workflow.yml"}, "svc", "under .github/workflows/"),
    ({}, "../elsewhere", "outside the repository"),
])
def test_bad_settings_are_config_errors(ci: dict[str, Any], project: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("*", r"\*").replace(".", r"\.")):
        github_workflow(config(**ci), project)


def test_variable_names_are_checked_when_the_config_loads(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text('[ci]\nvariables = ["A-B"]\n')
    with pytest.raises(ConfigError, match="A-B"):
        load_config(tmp_path)


# --- the command ---------------------------------------------------------------------------

# The same environments as `config()`'s, as shipyard.toml text (strings and booleans only).
TOML = '[service]\nname = "svc"\n' + "".join(
    f"[environments.{name}]\n" + "".join(
        f"{key} = {str(value).lower() if isinstance(value, bool) else f'{value!r}'}\n"
        for key, value in settings.items())
    for name, settings in ENVIRONMENTS.items())


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    service = tmp_path / "svc"
    service.mkdir()
    (service / "shipyard.toml").write_text(TOML)
    return service


def test_writes_then_checks_the_workflow(project: Path, capsys) -> None:
    target = project.parent / ".github" / "workflows" / "svc-ci-cd.yml"
    assert main(["-C", str(project), "ci", "github"]) == 0
    assert target.read_text() == github_workflow(load_config(project), "svc").text
    assert main(["-C", str(project), "ci", "github", "--check"]) == 0
    target.write_text(target.read_text() + "# edited by hand\n")
    capsys.readouterr()
    assert main(["-C", str(project), "ci", "github", "--check"]) == 1
    assert "differs from shipyard.toml" in capsys.readouterr().err
    assert target.read_text().endswith("# edited by hand\n")  # --check writes nothing


def test_check_of_a_missing_file_fails(project: Path, capsys) -> None:
    assert main(["-C", str(project), "ci", "github", "--check"]) == 1
    assert "is missing" in capsys.readouterr().err
    assert not (project.parent / ".github").exists()


def test_output_dash_prints_it(project: Path, capsys) -> None:
    assert main(["-C", str(project), "ci", "github", "-o", "-"]) == 0
    assert capsys.readouterr().out == github_workflow(load_config(project), "svc").text


def test_outside_a_repository_it_needs_an_output(tmp_path: Path, capsys) -> None:
    (tmp_path / "shipyard.toml").write_text(TOML)
    assert main(["-C", str(tmp_path), "ci", "github"]) == 2
    assert "pass --output" in capsys.readouterr().err
    assert main(["-C", str(tmp_path), "ci", "github", "-o", str(tmp_path / "w.yml")]) == 0
    assert "working-directory" not in (tmp_path / "w.yml").read_text()


def test_a_bad_setting_writes_nothing(project: Path, capsys) -> None:
    (project / "shipyard.toml").write_text(TOML + '[ci]\nstaging = "qa"\n')
    assert main(["-C", str(project), "ci", "github"]) == 3
    assert capsys.readouterr().err.startswith("error: ci.staging 'qa' is not an environment")
    assert not (project.parent / ".github").exists()
