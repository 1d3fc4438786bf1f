"""`shipyard ci github`: the GitHub Actions workflow of a service, from its shipyard.toml.

Pure: the text comes from the Config and where the service sits in its repository, so the
committed workflow can be compared with it (tests/unit/test_ci_github.py does).

Six jobs: test -> build -> deploy-staging -> deploy-production -> integration -> cleanup.
Run steps call `shipyard` (plus pip, pytest, ruff and git), so `shipyard rehearse` can run
them on the sandbox; `uses:` steps are only the actions in ACTIONS, each pinned to a commit.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath

from shipyard.config import Config, EnvironmentSettings
from shipyard.domain.references import names
from shipyard.errors import ConfigError
from shipyard.usecases.build_image import TARGET_KEYS

# Each action pinned to the commit of a release (a tag can be moved; a commit cannot). To
# update one: the commit a new release tag names in the action's repository, and its tag.
ACTIONS = {
    "checkout": ("actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "setup-python": ("actions/setup-python", "5fda3b95a4ea91299a34e894583c3862153e4b97",
                     "v7.0.0"),
    "aws": ("aws-actions/configure-aws-credentials", "e6de054238d6b7531b4efff3b6587d9aade6a06c",
            "v6.2.3"),
    "codeql-init": ("github/codeql-action/init", "8aad20d150bbac5944a9f9d289da16a4b0d87c1e",
                    "v4.36.2"),
    "codeql-analyze": ("github/codeql-action/analyze",
                       "8aad20d150bbac5944a9f9d289da16a4b0d87c1e", "v4.36.2"),
    "upload-sarif": ("github/codeql-action/upload-sarif",
                     "8aad20d150bbac5944a9f9d289da16a4b0d87c1e", "v4.36.2"),
    "upload-artifact": ("actions/upload-artifact", "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f",
                        "v7.0.0"),
}

_BRANCH = re.compile(r"[A-Za-z0-9._/-]{1,200}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_ENVIRONMENT = re.compile(r"[A-Za-z0-9_-]{1,100}")
REPORTS = "reports"  # under the project folder: test, smoke and load-test reports


@dataclass(frozen=True)
class Workflow:
    path: str  # relative to the repository root
    text: str


def default_workflow_path(config: Config) -> str:
    return config.ci.workflow or f".github/workflows/{config.service.name}-ci-cd.yml"


def github_workflow(config: Config, project: str) -> Workflow:
    """The workflow for the service in `project` (its folder, relative to the repository
    root, "." for the root itself)."""
    ci = config.ci
    path = default_workflow_path(config)
    _check(config, project, path)
    staging = config.environments[ci.staging]
    production = config.environments[ci.production]
    w = _Writer(config, project)
    w.header(path)
    w.test_job()
    w.build_job()
    w.deploy_job(ci.staging, staging, production=False)
    w.deploy_job(ci.production, production, production=True)
    w.integration_job()
    w.cleanup_job()
    return Workflow(path, "\n".join(w.lines) + "\n")


def _check(config: Config, project: str, path: str) -> None:
    ci = config.ci
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not path.endswith((".yml", ".yaml")) \
            or pure.parts[:2] != (".github", "workflows"):
        raise ConfigError(f"ci.workflow {path!r} must be a .yml file under .github/workflows/ "
                          "(GitHub runs only those), relative to the repository root")
    project_path = PurePosixPath(project)
    if project_path.is_absolute() or ".." in project_path.parts:
        raise ConfigError(f"the project folder {project!r} is outside the repository; run "
                          "`shipyard ci github` in a folder of the repository")
    for branch in (*ci.branches, *ci.production_branches):
        if not _BRANCH.fullmatch(branch):
            raise ConfigError(f"ci branch {branch!r}: use a branch name (letters, digits, "
                              "., _, /, -), not a pattern")
    for branch in ci.production_branches:
        if branch not in ci.branches:
            raise ConfigError(f"ci.production_branches has {branch!r}, which ci.branches "
                              "does not trigger; add it to ci.branches")
    for role, name in (("ci.staging", ci.staging), ("ci.production", ci.production)):
        if name not in config.environments:
            raise ConfigError(f"{role} {name!r} is not an environment; add "
                              f"[environments.{name}] or set {role} to one of "
                              f"{', '.join(sorted(config.environments)) or '(none defined)'}")
        if not _ENVIRONMENT.fullmatch(name):
            raise ConfigError(f"{role} {name!r}: a GitHub environment name here is letters, "
                              "digits, _ and -")
    if ci.staging == ci.production:
        raise ConfigError("ci.staging and ci.production name the same environment; name two")
    secret = config.notifications.slack_webhook_env
    if secret and not _NAME.fullmatch(secret):
        raise ConfigError(f"notifications.slack_webhook_env {secret!r} is not a variable name")
    reports = PurePosixPath(config.scan.reports_dir.as_posix())
    if reports.is_absolute() or ".." in reports.parts:
        raise ConfigError(f"scan.reports_dir {reports} must be inside the project folder for "
                          "the workflow to upload its SARIF report")


def _q(value: str) -> str:
    """A YAML scalar: a JSON string is one, and quotes whatever YAML would read otherwise."""
    return json.dumps(value)


def _minutes(environment: EnvironmentSettings) -> int:
    # The deploy follows its deployment for up to the environment's timeout; the rest is the
    # checkout, the install and the health check.
    return math.ceil(environment.timeout / 60) + 15


class _Writer:
    def __init__(self, config: Config, project: str) -> None:
        self.config = config
        self.ci = config.ci
        self.project = PurePosixPath(project).as_posix()
        self.service = config.service.name
        self.lines: list[str] = []

    def add(self, text: str, indent: int = 0) -> None:
        for line in text.strip("\n").split("\n"):
            self.lines.append(" " * indent + line if line else "")

    def at(self, relative: str) -> str:
        """A project path as the repository sees it (`uses:` steps take those)."""
        return relative if self.project == "." else f"{self.project}/{relative}"

    # --- the top: triggers, permissions, concurrency -------------------------------------

    def header(self, path: str) -> None:
        ci = self.ci
        source = self.at("shipyard.toml")
        self.add(f"""
# Generated by `shipyard ci github` from {source}:
# edit that file, not this one, and regenerate (a test fails while the two differ).
# The README's "shipyard ci github" section explains each job.
name: {_q(f"{self.service} CI/CD")}
""")
        paths = "" if self.project == "." else \
            f"\n    paths:\n      - {_q(self.at('**'))}\n      - {_q(path)}"
        branches = ", ".join(_q(b) for b in ci.branches)
        group = ("${{ github.workflow }}-${{ github.event_name == 'pull_request' && github.ref "
                 "|| github.run_id }}")
        self.add(f"""
on:
  push:
    branches: [{branches}]{paths}
  pull_request:{paths or " {}"}
  release:
    types: [published]
  workflow_dispatch:
    inputs:
      version:
        description: "Version to release and deploy (X.Y.Z); empty: this commit's version"
        type: string
        default: ""
      environment:
        description: Where to deploy
        type: choice
        options: [{_q(ci.staging)}, {_q(ci.production)}]
        default: {_q(ci.staging)}

# Nothing by default: each job asks for what it needs.
permissions: {{}}

# A newer push to a pull request cancels its older run; every other run has a group of its
# own (deploys queue per environment below, and are never cancelled).
concurrency:
  group: {group}
  cancel-in-progress: ${{{{ github.event_name == 'pull_request' }}}}

jobs:""")

    # --- shared steps ----------------------------------------------------------------------

    def uses(self, key: str, name: str, indent: int = 6, condition: str = "",
             with_: dict[str, str] | None = None) -> None:
        repo, sha, tag = ACTIONS[key]
        self.add(f"- name: {name}", indent)
        if condition:
            self.add(f"  if: {condition}", indent)
        self.add(f"  uses: {repo}@{sha} # {tag}", indent)
        if with_:
            self.add("  with:", indent)
            for k, v in with_.items():
                if "\n" in v:
                    self.add(f"    {k}: |", indent)
                    self.add("\n".join("      " + line for line in v.split("\n")), indent)
                else:
                    self.add(f"    {k}: {v}", indent)

    def run(self, name: str, script: str, indent: int = 6, condition: str = "",
            env: dict[str, str] | None = None, step_id: str = "") -> None:
        self.add(f"- name: {name}", indent)
        if step_id:
            self.add(f"  id: {step_id}", indent)
        if condition:
            self.add(f"  if: {condition}", indent)
        if env:
            self.add("  env:", indent)
            for k, v in env.items():
                self.add(f"    {k}: {v}", indent)
        if "\n" in script.strip("\n"):
            self.add("  run: |", indent)
            self.add(script, indent + 4)
        else:
            self.add(f"  run: {script.strip()}", indent)

    def job(self, name: str, comment: str, *, needs: str = "", condition: str = "",
            minutes: int, permissions: dict[str, str], environment: str = "",
            outputs: dict[str, str] | None = None, env: dict[str, str] | None = None,
            project_steps: bool = True) -> None:
        self.add("")
        self.add(comment, 2)
        self.add(f"{name}:", 2)
        if needs:
            self.add(f"needs: {needs}", 4)
        if condition:
            self.add(f"if: {condition}", 4)
        self.add(f"runs-on: {_q(self.ci.runs_on)}", 4)
        self.add(f"timeout-minutes: {minutes}", 4)
        if environment:
            self.add(f"environment: {environment}", 4)
            self.add(f"""
concurrency:
  group: {_q(f"{self.service}-deploy-{environment}")}
  cancel-in-progress: false""", 4)
        if permissions:
            self.add("permissions:", 4)
            for scope, level in permissions.items():
                self.add(f"  {scope}: {level}", 4)
        else:
            self.add("permissions: {}", 4)
        if outputs:
            self.add("outputs:", 4)
            for k, v in outputs.items():
                self.add(f"  {k}: {v}", 4)
        if env:
            self.add("env:", 4)
            for k, v in env.items():
                self.add(f"  {k}: {v}", 4)
        if project_steps and self.project != ".":
            self.add(f"""
defaults:
  run:
    shell: bash
    working-directory: {_q(self.project)}""", 4)
        else:
            self.add("defaults:\n  run:\n    shell: bash", 4)
        self.add("steps:", 4)

    def setup(self, *, fetch_depth: int = 1, persist_credentials: bool = False) -> None:
        checkout = {"persist-credentials": str(persist_credentials).lower()}
        if fetch_depth != 1:
            checkout = {"fetch-depth": str(fetch_depth), **checkout}
        self.uses("checkout", "Check out", with_=checkout)
        self.uses("setup-python", "Set up Python",
                  with_={"python-version": _q(self.ci.python_version)})
        self.run("Install Shipyard", f"python -m pip install {shlex.join(self.ci.install)}")

    def aws(self, condition: str = "", *, pull_request: bool = False) -> None:
        # OIDC: GitHub's token for this job, exchanged for a role's short-lived credentials.
        # The deploy role's trust policy names the branches, tags and environments; the
        # pull-request role's names pull requests, and lets them pull the base image only.
        name, variable = ("the pull-request role, which only pulls the base image",
                          self.ci.pull_request_role_variable) if pull_request else (
            "the deploy role", self.ci.role_variable)
        self.uses("aws", f"AWS credentials (OIDC, {name})", condition=condition,
                  with_={"role-to-assume": f"${{{{ vars.{variable} }}}}",
                         "aws-region": _q(self.config.service.region)})

    def deploy_env(self) -> dict[str, str]:
        env = {name: f"${{{{ vars.{name} }}}}" for name in self.ci.variables}
        secret = self.config.notifications.slack_webhook_env
        if secret:
            env[secret] = f"${{{{ secrets.{secret} }}}}"
        return env

    # --- the jobs ----------------------------------------------------------------------------

    def test_job(self) -> None:
        ci = self.ci
        self.job("test", "# GamePulse's tests with coverage, ruff, and CodeQL's Python analysis.",
                 minutes=20, permissions={"contents": "read", "security-events": "write",
                                          "actions": "read"})
        self.uses("checkout", "Check out", with_={"persist-credentials": "false"})
        self.uses("setup-python", "Set up Python",
                  with_={"python-version": _q(ci.python_version)})
        codeql = {"languages": "python", "build-mode": "none"}
        if self.project != ".":  # the service's code, not the rest of the repository
            codeql["config"] = f"paths:\n  - {_q(self.project)}"
        self.uses("codeql-init", "CodeQL init", with_=codeql)
        self.run("Install Shipyard and the test tools",
                 f"python -m pip install {shlex.join(ci.install)}")
        source = ",".join(ci.coverage)
        run = "python -m coverage run" + (f" --source {shlex.quote(source)}" if source else "")
        self.run("Tests with coverage", f"""
mkdir -p {REPORTS}
{run} -m pytest {shlex.join(ci.tests)} --junitxml {REPORTS}/tests.xml
python -m coverage xml -o {REPORTS}/coverage.xml
python -m coverage report
python -m coverage report --format=markdown >> "$GITHUB_STEP_SUMMARY"
""")
        self.run("Lint (ruff)", f"python -m ruff check {shlex.join(ci.lint)}")
        self.uses("codeql-analyze", "CodeQL analyze", with_={"category": "/language:python"})
        self.uses("upload-artifact", "Upload the test reports", condition="${{ !cancelled() }}",
                  with_={"name": "test-reports", "path": self.at(REPORTS) + "/",
                         "if-no-files-found": "ignore"})

    def build_job(self) -> None:
        not_pr = "github.event_name != 'pull_request'"
        # A fork's pull request gets no OIDC token (and must not get AWS credentials).
        own_pr = ("github.event_name == 'pull_request' && "
                  "github.event.pull_request.head.repo.full_name == github.repository")
        reports = self.at(self.config.scan.reports_dir.as_posix())
        self.job("build", """
# Version, multi-arch build, push to ECR, the release's git tag, and the image scan (SARIF to
# code scanning). A pull request builds the image too, and pushes nothing: the deploy role is
# not assumable from pull requests. contents: write is for the git tag v<version> of a
# release, pushed once its image is in ECR.""",
                 needs="test", minutes=60,
                 permissions={"contents": "write", "id-token": "write",
                              "security-events": "write", "actions": "read"},
                 # A pull request pushes nothing: its version is still in the summary.
                 outputs={"version": "${{ steps.push.outputs.version || "
                                     "steps.version.outputs.version }}",
                          "image": "${{ steps.push.outputs.image }}",
                          "digest": "${{ steps.push.outputs.digest }}"},
                 env={"VERSION": "${{ inputs.version }}"})
        # The full history: the version comes from the last release tag and the commits since.
        self.setup(fetch_depth=0, persist_credentials=True)
        self.run("Version and tags", """
args=()
if [ -n "$VERSION" ]; then args+=(--version "$VERSION"); fi
shipyard version "${args[@]}"
shipyard tags "${args[@]}"
""", step_id="version")
        if any(name in TARGET_KEYS for value in self.config.build.args.values()
               for name in names(value)):  # a base image in the service's own ECR
            self.aws(condition=own_pr, pull_request=True)
        self.run("Build (multi-arch) for a pull request, never pushed",
                 "shipyard build --multi-arch", step_id="build", condition=own_pr)
        self.aws(condition=not_pr)
        sign = (" --sbom" if self.config.ci.sbom else "") + (
            " --sign" if self.config.signing.key else "")
        attach = " and ".join(what for flag, what in ((" --sbom", "attach SBOMs"),
                                                     (" --sign", "sign")) if flag in sign)
        self.run("Build (multi-arch) and push, or promote an image already built"
                 + (f"; {attach}" if attach else ""), """
args=(--multi-arch --git-tag SIGN)
if [ -n "$VERSION" ]; then args+=(--version "$VERSION"); fi
shipyard push "${args[@]}"
""".replace(" SIGN", sign), step_id="push", condition=not_pr)
        self.run("Push the release tag", 'git push origin "refs/tags/$TAG"',
                 condition="steps.push.outputs.git-tag != ''",
                 env={"TAG": "${{ steps.push.outputs.git-tag }}"})
        self.run("Scan the image", 'shipyard scan "$DIGEST"', step_id="scan",
                 condition=not_pr, env={"DIGEST": "${{ steps.push.outputs.digest }}"})
        self.uses("upload-sarif", "Upload the scan to code scanning",
                  condition="${{ !cancelled() && (steps.scan.outcome == 'success' || "
                            "steps.scan.outcome == 'failure') }}",
                  with_={"sarif_file": f"{reports}/scan.sarif", "category": "image-scan"})

    def deploy_job(self, name: str, environment: EnvironmentSettings, *,
                   production: bool) -> None:
        ci = self.ci
        if production:
            main = " || ".join(f"github.ref == 'refs/heads/{b}'"
                               for b in ci.production_branches)
            condition = (
                ">-\n  !cancelled() && needs.build.result == 'success' && (\n"
                "    (needs.deploy-staging.result == 'success' && (github.event_name == "
                f"'release' ||\n      (github.event_name == 'push' && ({main}))))\n"
                "    || (github.event_name == 'workflow_dispatch' && inputs.environment == "
                f"'{name}'))")
            comment = f"""
# {name}: blue/green through CodeDeploy, after staging. Its GitHub environment's required
# reviewers (the brief's PRODUCTION_APPROVERS) approve the job before it starts, so it passes
# --yes; deploy checks health and /version, rolls back on failure, and notifies."""
            needs = "[build, deploy-staging]"
        else:
            condition = (">-\n  github.event_name == 'push' || github.event_name == "
                         "'release' ||\n  (github.event_name == 'workflow_dispatch' && "
                         f"inputs.environment == '{name}')")
            comment = f"""
# {name}: every push and release, and a dispatch that picks it. Deploys the digest the build
# job pushed ($SHIPYARD_IMAGE), the same one production gets later."""
            needs = "build"
        self.job(f"deploy-{'production' if production else 'staging'}", comment, needs=needs,
                 condition=condition, minutes=_minutes(environment),
                 permissions={"contents": "read", "id-token": "write"}, environment=name,
                 env={"SHIPYARD_IMAGE": "${{ needs.build.outputs.image }}",
                      **self.deploy_env()})
        self.setup()
        self.aws()
        yes = " --yes" if environment.require_approval else ""
        self.run(f"Deploy to {name}", f"shipyard deploy {name}{yes}")
        self.run("Status", f"shipyard status {name}", condition="${{ !cancelled() }}")

    def integration_job(self) -> None:
        ci = self.ci
        self.job("integration", f"""
# Smoke and load tests against the environment just deployed ({ci.production} when it was,
# else {ci.staging}); their reports are artifacts, the load test's plot is in the summary.""",
                 needs="[build, deploy-staging, deploy-production]",
                 condition=">-\n  !cancelled() && !contains(needs.*.result, 'failure') &&\n"
                           "  (needs.deploy-staging.result == 'success' || "
                           "needs.deploy-production.result == 'success')",
                 minutes=30, permissions={"contents": "read", "id-token": "write"},
                 env={"ENVIRONMENT": "${{ needs.deploy-production.result == 'success' && "
                                     f"'{ci.production}' || '{ci.staging}' }}}}",
                      **{k: v for k, v in self.deploy_env().items() if k in ci.variables}})
        self.setup()
        self.aws()
        self.run("Smoke tests", f"""
shipyard smoke "$ENVIRONMENT" --report-json "{REPORTS}/smoke-$ENVIRONMENT.json" \\
  --junit "{REPORTS}/smoke-$ENVIRONMENT.xml"
""", step_id="smoke")
        self.run("Load test", f"""
shipyard loadtest "$ENVIRONMENT" --reports-dir "{REPORTS}/loadtest-$ENVIRONMENT"
""", step_id="loadtest", condition="${{ !cancelled() && steps.smoke.outcome == 'success' }}")
        self.uses("upload-artifact", "Upload the smoke and load-test reports",
                  condition="${{ !cancelled() }}",
                  with_={"name": "integration-reports-${{ env.ENVIRONMENT }}",
                         "path": self.at(REPORTS) + "/", "if-no-files-found": "warn"})

    def cleanup_job(self) -> None:
        pushed = "github.event_name != 'pull_request' && needs.build.result == 'success'"
        self.job("cleanup", """
# Image cleanup after a run that pushed: `shipyard cleanup --yes` deletes what [cleanup] in
# shipyard.toml lets go, never an image a service runs or deploys, a kept index's platform
# images or a kept image's signatures; its table goes to the summary. Then the run summary,
# whatever happened before.""",
                 needs="[test, build, deploy-staging, deploy-production, integration]",
                 condition="${{ always() }}", minutes=10,
                 permissions={"contents": "read", "id-token": "write"},
                 env={"VERSION": "${{ needs.build.outputs.version }}",
                      "IMAGE": "${{ needs.build.outputs.image }}",
                      "TEST": "${{ needs.test.result }}",
                      "BUILD": "${{ needs.build.result }}",
                      "STAGING": "${{ needs.deploy-staging.result }}",
                      "PRODUCTION": "${{ needs.deploy-production.result }}",
                      "INTEGRATION": "${{ needs.integration.result }}"})
        self.setup()
        self.aws(condition=pushed)
        self.run("Image cleanup", """
{
  echo "### Image cleanup"
  echo
  echo '```'
  shipyard cleanup --yes
  echo '```'
} >> "$GITHUB_STEP_SUMMARY"
""", step_id="cleanup", condition=pushed)
        self.run("Run summary", f"""
{{
  echo "### {self.service}: $GITHUB_EVENT_NAME on $GITHUB_REF_NAME"
  echo
  echo "| job | result |"
  echo "|---|---|"
  echo "| test | $TEST |"
  echo "| build | $BUILD |"
  echo "| deploy-staging | $STAGING |"
  echo "| deploy-production | $PRODUCTION |"
  echo "| integration | $INTEGRATION |"
  echo
  echo "version: ${{VERSION:-none}}; image: ${{IMAGE:-none}}"
}} >> "$GITHUB_STEP_SUMMARY"
""", condition="${{ !cancelled() }}")
