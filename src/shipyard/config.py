"""shipyard.toml as validated models.

Loading happens in one step: read the TOML, validate it, then resolve relative paths against
the project folder. Flags are applied later by each command, so they always win. Without a
shipyard.toml every setting has its documented default, so `shipyard version` works in any git
repository that has a version.txt.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
)

from shipyard.errors import ConfigError

CONFIG_FILE_NAME = "shipyard.toml"
_CONFIG_MAX = 1024 * 1024  # far above any real shipyard.toml

Bump = Literal["major", "minor", "patch"]

# Placeholders a prerelease template may use; anything else is a config error, caught at load
# time rather than on the first pull request that needs it.
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$")
_PRERELEASE_LITERAL = re.compile(r"^[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*$")
# A tag prefix is the start of a git tag name: characters git allows in any tag, kept short.
_TAG_PREFIX = re.compile(r"^[A-Za-z0-9._/-]{0,32}$")
_ECR_TAG_FILTER = re.compile(r"^[0-9a-zA-Z._*-]{1,128}$")
# Booleans, integers and numbers are strict: TOML gives real types, and pydantic's lax mode
# would read `scan_on_push = "off"` as false. Strings, paths and arrays need no such care.


def _prerelease_placeholders() -> tuple[str, ...]:
    # The domain owns the list; imported when a template is checked, not at start-up.
    from shipyard.domain.versioning import PRERELEASE_PLACEHOLDERS

    return PRERELEASE_PLACEHOLDERS


class _Model(BaseModel):
    # Schemas are built when shipyard.toml is first validated, not when this module is
    # imported: `--help` and commands that never load the config skip the work. Defaults are
    # factories for the same reason (a default instance would build its schema at import).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class VersionRule(_Model):
    """How a commit on some branches is versioned: which part to bump, which prerelease."""

    bump: Bump = "patch"
    prerelease: str = Field(
        default="",
        description="Prerelease identifier template; '' makes a stable version. "
        "Placeholders: {slug} (the branch name, slugified), {pr} (pull-request number).",
    )

    @field_validator("prerelease")
    @classmethod
    def _known_placeholders(cls, template: str) -> str:
        for name in _PLACEHOLDER.findall(template):
            if name not in _prerelease_placeholders():
                raise ValueError(
                    f"unknown placeholder {{{name}}}; use {{slug}} or {{pr}}"
                )
        literal = _PLACEHOLDER.sub("x", template)
        if template and not _PRERELEASE_LITERAL.match(literal):
            raise ValueError(
                "a prerelease may hold only letters, digits, '-' and '.'-separated parts"
            )
        import semver  # here, not at the top: only a config being validated needs it

        # What a real commit would get must be valid semver: numeric parts without leading
        # zeros ("rc.01" is not), whatever the pull-request number.
        sample = template.format(slug="feature-x", pr="7")
        if template and not semver.Version.is_valid(f"0.0.0-{sample}.0"):
            raise ValueError(f"'{template}' does not make a valid semver prerelease (a numeric "
                             "part may not start with 0)")
        return template


class BranchRule(VersionRule):
    """A version rule for branches whose name matches a glob pattern (`release/*`)."""

    pattern: str = Field(min_length=1)


def _default_branch_rules() -> tuple[BranchRule, ...]:
    return (
        BranchRule(pattern="main", bump="minor"),
        BranchRule(pattern="master", bump="minor"),
        BranchRule(pattern="develop", bump="patch", prerelease="develop"),
    )


class VersionSettings(_Model):
    """[version]: where the version lives and how each kind of commit is versioned."""

    file: Path = Path("version.txt")
    tag_prefix: str = Field(default="v", description="Put before the version in git tag "
                            "names: 'v' makes v1.2.3.")
    branches: tuple[BranchRule, ...] = Field(default_factory=_default_branch_rules)
    pull_request: VersionRule = Field(
        default_factory=lambda: VersionRule(bump="patch", prerelease="pr-{pr}"))
    other_branches: VersionRule = Field(
        default_factory=lambda: VersionRule(bump="patch", prerelease="{slug}"))

    @field_validator("tag_prefix")
    @classmethod
    def _valid_in_a_tag_name(cls, prefix: str) -> str:
        # `<prefix>1.2.3` must be a tag git accepts (git check-ref-format's rules that a
        # prefix can break) and that no git command reads as an option.
        parts = prefix.split("/")
        if (not _TAG_PREFIX.fullmatch(prefix) or ".." in prefix or prefix.startswith(("-", "/"))
                or "//" in prefix or any(part.startswith(".") for part in parts)
                or any(part.endswith(".lock") for part in parts[:-1])):
            raise ValueError(
                f"{prefix!r} cannot start a git tag name; use up to 32 letters, digits, '.', "
                "'_', '-' or '/' (no '..', '//', no leading '-', '/' or '.'), such as 'v'")
        return prefix


class TagSettings(_Model):
    """[tags]: which moving tags the tag plan adds beside the version."""

    latest: Literal["auto"] | StrictBool = "auto"
    major: StrictBool = False

    @field_validator("latest", mode="before")
    @classmethod
    def _auto_or_boolean(cls, value: object) -> object:
        # One clear message instead of one error per member of the union.
        if value != "auto" and not isinstance(value, bool):
            raise ValueError('expected "auto", true or false')
        return value


class LabelSettings(_Model):
    """[labels]: optional OCI labels; `source` defaults to the GitHub or git remote URL."""

    description: str = ""
    licenses: str = ""
    url: str = ""
    source: str = ""


class BuildSettings(_Model):
    """[build]: how the image is built. Paths are relative to the project folder."""

    context: Path = Path(".")
    dockerfile: Path = Path("Dockerfile")
    platforms: tuple[str, ...] = ("linux/amd64",)
    multi_arch_platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64")
    # buildah unless told: it is the builder this project tests against a real tool.
    builder: Literal["buildah", "docker"] = "buildah"
    output: Path = Path(".shipyard/oci")
    args: dict[str, str] = Field(
        default_factory=dict,
        description="Build arguments; ${VAR} is replaced from the environment.")

    @field_validator("platforms", "multi_arch_platforms")
    @classmethod
    def _platform_names(cls, platforms: tuple[str, ...]) -> tuple[str, ...]:
        for platform in platforms:
            if not _PLATFORM.fullmatch(platform):
                raise ValueError(f"'{platform}' is not os/arch[/variant], e.g. linux/arm64")
        return platforms


class RepositoryDefaults(_Model):
    """[repository]: how a missing ECR repository is created.

    The default makes every version, prerelease, `sha-` and date tag immutable (`*.*.*` and
    `*-*`) and leaves the floating tags (`X.Y`, `X`, `latest`) free to move: ECR's wildcard
    `*` cannot tell `1.1` from `1.1.0`, so an IMMUTABLE_WITH_EXCLUSION list of floating tags
    could not name `X.Y` without freeing `X.Y.Z` too.
    """

    scan_on_push: StrictBool = True
    tag_mutability: Literal["MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION",
                            "MUTABLE_WITH_EXCLUSION"] = "MUTABLE_WITH_EXCLUSION"
    mutability_exclusions: tuple[str, ...] = ("*.*.*", "*-*")
    encryption: Literal["AES256", "KMS"] = "AES256"
    kms_key: str = ""

    @field_validator("mutability_exclusions")
    @classmethod
    def _ecr_filters(cls, filters: tuple[str, ...]) -> tuple[str, ...]:
        # What ECR's ImageTagMutabilityExclusionFilter accepts (at most 5, `*` the only
        # wildcard); refused here rather than by CreateRepository after the build.
        if len(filters) > 5:
            raise ValueError(f"ECR takes at most 5 exclusion filters, not {len(filters)}")
        for value in filters:
            if not _ECR_TAG_FILTER.fullmatch(value):
                raise ValueError(f"'{value}' is not an ECR tag filter: letters, digits, "
                                 "'.', '_', '-' and the wildcard '*', at most 128 characters")
        return filters


class ScanSettings(_Model):
    """[scan]: the vulnerability gate."""

    threshold: Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL"] = "CRITICAL"
    allowlist: Path | None = None
    timeout: float = Field(default=600.0, gt=0, strict=True, allow_inf_nan=False)
    poll_interval: float = Field(default=5.0, gt=0, strict=True, allow_inf_nan=False)
    reports_dir: Path = Path(".shipyard/scan")


class NetworkSettings(_Model):
    """awsvpc networking for a service's tasks (used by the AppSpec and by deploys)."""

    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    assign_public_ip: Literal["ENABLED", "DISABLED"] = "DISABLED"


class CapacityProvider(_Model):
    """One entry of a capacity provider strategy."""

    capacity_provider: str
    base: int = Field(default=0, ge=0, strict=True)
    weight: int = Field(default=1, ge=0, strict=True)


class HealthSettings(_Model):
    """[environments.NAME.health]: the check `deploy` makes once a deployment succeeded."""

    url: str = Field(default="", validate_default=True, description="The service's URL; "
                     "${VAR:-default} is expanded from the environment (the sandbox exports "
                     "SHIPYARD_LISTENER_* URLs).")
    paths: tuple[str, ...] = ("/health",)
    version_path: str = Field(default="/version", description="A JSON endpoint whose "
                              "version_field must equal the deployed version; \"\" skips it.")
    version_field: str = "version"
    timeout: float = Field(default=60.0, gt=0, strict=True, allow_inf_nan=False)
    rollback: StrictBool = Field(default=True, description="Roll back when the check fails.")

    @field_validator("url")
    @classmethod
    def _a_url_to_check(cls, url: str) -> str:
        # A literal URL is judged whole now; one with ${VAR} references once filled in.
        from shipyard.domain.health_url import template_problem

        problem = template_problem(url)
        if problem:
            raise ValueError(problem)
        return url

    @field_validator("paths")
    @classmethod
    def _paths_from_the_root(cls, paths: tuple[str, ...]) -> tuple[str, ...]:
        for path in paths:
            _path_from_the_root(path)
        return paths

    @field_validator("version_path")
    @classmethod
    def _version_path_from_the_root(cls, path: str) -> str:
        return _path_from_the_root(path) if path else path  # "" skips the version check


def _path_from_the_root(path: str) -> str:
    # Appended to the health URL as it is: a path without its "/" would change the host's
    # port or name ("http://h:8080" + "health").
    if not path.startswith("/") or any(c in path for c in "# \t\n"):
        raise ValueError(f"{path!r} is not a path; write it from the root, like \"/health\"")
    return path


_JSON_SCALARS = (str, int, float, bool)
_SMOKE_PLACEHOLDER = "{run}"  # a unique id per run, so that what a check posts is its own


def _json_value(value: Any, where: str) -> Any:
    # TOML has dates and times, which JSON has not: refused here, not compared false later.
    if isinstance(value, dict):
        return {k: _json_value(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if value is None or isinstance(value, _JSON_SCALARS):
        return value
    raise ValueError(f"{where} is a TOML {type(value).__name__}, which JSON has not; "
                     "quote it as a string")


class SmokeCheck(_Model):
    """[[smoke.checks]]: one request and what its answer must be."""

    name: str = Field(default="", description="Names the check in reports (default: METHOD "
                      "path).")
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    path: str = Field(description="From the root; {run} is replaced by the run's id.")
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = Field(default=None, description="Sent as JSON; {run} in its strings is "
                      "replaced.")
    status: int = Field(default=200, ge=100, le=599, strict=True)
    fields: dict[str, Any] = Field(default_factory=dict, description="JSON field path "
                                   "(a.b[0].c) -> the value it must equal.")
    version_field: str = Field(default="", description="A JSON field path whose value must "
                               "equal the deployed version.")
    max_latency: float | None = Field(default=None, gt=0, strict=True, allow_inf_nan=False,
                                      description="Seconds; default smoke.max_latency.")

    @field_validator("path")
    @classmethod
    def _a_path(cls, path: str) -> str:
        _path_from_the_root(path)
        if any(c in path.replace(_SMOKE_PLACEHOLDER, "") for c in "{}"):
            raise ValueError(f"{path!r}: the only placeholder is {_SMOKE_PLACEHOLDER}")
        return path

    @field_validator("body")
    @classmethod
    def _a_json_body(cls, body: Any) -> Any:
        return _json_value(body, "body")

    @field_validator("fields")
    @classmethod
    def _json_fields(cls, fields: dict[str, Any]) -> dict[str, Any]:
        from shipyard.domain.json_fields import parse_path

        for path in fields:
            parse_path(path)  # a PathError is a ValueError: one line naming the path
        return _json_value(fields, "fields")

    @field_validator("version_field")
    @classmethod
    def _a_field_path(cls, path: str) -> str:
        from shipyard.domain.json_fields import parse_path

        if path:  # "" checks no version
            parse_path(path)
        return path


class SmokeSettings(_Model):
    """[smoke]: the API checks `shipyard smoke ENV` makes, in order, at the environment's
    health URL."""

    timeout: float = Field(default=5.0, gt=0, strict=True, allow_inf_nan=False,
                           description="Seconds for one request.")
    total_timeout: float = Field(default=60.0, gt=0, strict=True, allow_inf_nan=False,
                                 description="Seconds for the whole run.")
    retries: int = Field(default=1, ge=0, le=5, strict=True, description="Repeats of a "
                         "request answered 502 or 503.")
    max_latency: float = Field(default=1.0, gt=0, strict=True, allow_inf_nan=False)
    checks: tuple[SmokeCheck, ...] = ()


class PolicySettings(_Model):
    """[environments.NAME.policy]: what an image must be before `deploy` puts it in NAME (the
    compliance gate; `shipyard policy check NAME --image REF` runs it alone)."""

    signed: StrictBool = Field(default=False, description=(
        "The image and each platform image carry a signature by one of `keys`."))
    keys: list[str] = Field(default_factory=list, description=(
        "The keys whose signatures count (default: [signing] verify_keys, then [signing] "
        "key)."))
    sbom: StrictBool = Field(default=False, description=(
        "Each platform image has an SBOM attached (signed by one of the keys, with "
        "`signed`)."))
    scan: StrictBool = Field(default=False, description=(
        "ECR's findings on each platform image pass [scan] threshold and allowlist."))
    labels: list[str] = Field(default_factory=list, description=(
        "OCI labels the image must carry, non-empty."))
    promoted_from: str = Field(default="", description=(
        "An environment whose service must run this very digest (promotion through it)."))


class EnvironmentSettings(_Model):
    """[environments.NAME]: where one environment runs and how it is deployed."""

    cluster: str
    service: str
    task_definition: Path = Field(description="The task-definition template, relative to the "
                                  "project folder.")
    deployment: Literal["rolling", "blue_green"] = "rolling"
    container_name: str = Field(default="", description="The container behind the load "
                                "balancer.")
    container_port: int | None = Field(default=None, ge=1, le=65535, strict=True)
    codedeploy_application: str = ""
    codedeploy_group: str = ""
    appspec: Path | None = None
    hooks: dict[str, str] = Field(default_factory=dict, description="AppSpec lifecycle "
                                  "event -> Lambda function name or ARN.")
    platform_version: str = ""
    capacity_provider_strategy: tuple[CapacityProvider, ...] = ()
    network: NetworkSettings | None = None
    values: dict[str, Any] = Field(default_factory=dict, description="Values for the "
                                   "task-definition template.")
    deployment_config: str = Field(default="", description="blue_green: the CodeDeploy "
                                   "deployment config (default: the deployment group's).")
    timeout: float = Field(default=1800.0, gt=0, strict=True, allow_inf_nan=False,
                           description="Seconds `deploy` and `rollback` wait for the verdict.")
    rollback_on_timeout: StrictBool = False
    desired_count: int | None = Field(default=None, ge=1, strict=True, description="The tasks "
                                      "a service that runs none (created with DesiredCount 0 "
                                      "before its first image) gets on its first deploy; later "
                                      "deploys keep the service's own count.")
    require_approval: StrictBool = False
    health: HealthSettings | None = None
    policy: PolicySettings | None = None


class NotificationSettings(_Model):
    """[notifications]: where `deploy` and `rollback` say that they started, succeeded or
    failed. A notification that fails warns; it never fails a deployment."""

    sns_topic: str = Field(default="", description="An SNS topic name or ARN.")
    slack_webhook_env: str = Field(default="SLACK_WEBHOOK_URL", description="The variable "
                                   "holding a Slack incoming-webhook URL.")
    slack_webhook_secret: str = Field(default="", description="A Secrets Manager secret "
                                      "holding the URL, read when the variable is unset.")
    job_summary: StrictBool = True  # in GitHub Actions, append to $GITHUB_STEP_SUMMARY


class MetricsSettings(_Model):
    """[metrics]: CloudWatch metrics `deploy` and `rollback` put (PutMetricData)."""

    enabled: StrictBool = True
    namespace: str = "Shipyard/Deployments"


class DemoSettings(_Model):
    """[demo]: what `shipyard demo` prepares before the pipeline (a base image, for GamePulse)."""

    base_image_layout: Path | None = None  # an OCI layout; built by the script when missing
    base_image_script: Path | None = None
    base_image_repository: str = ""
    base_image_tag: str = "latest"
    base_image_env: str = "BASE_IMAGE"  # the variable build.args reads the reference from
    infrastructure: Path | None = None  # a CloudFormation template the sandbox provisions
    infrastructure_parameters: dict[str, str] = Field(default_factory=dict)


# [loadtest]'s run settings and thresholds, declared once: the section and its per-environment
# overrides take the same keys (an override's unset key keeps the section's value).
_Users = Annotated[int, Field(ge=1, le=10000, strict=True)]
_SpawnRate = Annotated[float, Field(gt=0, le=1000, strict=True, allow_inf_nan=False)]
_Duration = Annotated[int, Field(ge=1, le=3600, strict=True, description="Seconds.")]
_Millis = Annotated[float, Field(gt=0, strict=True, allow_inf_nan=False)]
_Rate = Annotated[float, Field(ge=0, le=1, strict=True, allow_inf_nan=False)]
_Rps = Annotated[float, Field(ge=0, strict=True, allow_inf_nan=False)]


def _loadtest_url(url: str | None) -> str | None:
    # "" (or unset): the environment's health.url. A literal URL is judged now, one with
    # ${VAR} references once filled in, as health.url is.
    from shipyard.domain.health_url import template_problem

    problem = template_problem(url) if url else None
    if problem:
        raise ValueError(problem)
    return url


class LoadTestOverride(_Model):
    """[loadtest.environments.NAME]: what differs for one environment."""

    url: str | None = None
    users: _Users | None = None
    spawn_rate: _SpawnRate | None = None
    duration: _Duration | None = None
    p95_ms: _Millis | None = None
    p99_ms: _Millis | None = None
    max_error_rate: _Rate | None = None
    min_rps: _Rps | None = None

    _url = field_validator("url")(_loadtest_url)


class LoadTestSettings(_Model):
    """[loadtest]: `shipyard loadtest ENV`, a headless Locust run and the thresholds it must
    meet. Paths are relative to the project folder."""

    scenario: Path = Field(default=Path("loadtest/locustfile.py"), description="The locustfile.")
    url: str = Field(default="", description="\"\": the environment's health.url.")
    users: _Users = 10
    spawn_rate: _SpawnRate = 5.0
    duration: _Duration = 20
    p95_ms: _Millis = 500.0
    p99_ms: _Millis = 1000.0
    max_error_rate: _Rate = 0.01
    min_rps: _Rps = 1.0
    reports_dir: Path = Path(".shipyard/loadtest")
    environments: dict[str, LoadTestOverride] = Field(default_factory=dict)

    _url = field_validator("url")(_loadtest_url)


class CiSettings(_Model):
    """[ci]: the GitHub Actions workflow `shipyard ci github` writes."""

    workflow: str = Field(default="", description="The workflow file, relative to the "
                          "repository root (default .github/workflows/<service>-ci-cd.yml).")
    runs_on: str = "ubuntu-24.04"
    python_version: str = "3.12"
    install: tuple[str, ...] = Field(default=("shipyard",), description="The arguments of "
                                     "`pip install` in each job: Shipyard and the test tools.")
    branches: tuple[str, ...] = ("main", "develop")
    production_branches: tuple[str, ...] = Field(default=("main",), description="Pushes to "
                                                 "these deploy to production after staging.")
    staging: str = "staging"
    production: str = "production"
    tests: tuple[str, ...] = ("tests",)
    coverage: tuple[str, ...] = Field(default=(), description="Packages coverage measures.")
    lint: tuple[str, ...] = (".",)
    role_variable: str = Field(default="AWS_DEPLOY_ROLE_ARN", description="The repository "
                               "variable holding the deploy role's ARN.")
    pull_request_role_variable: str = Field(
        default="AWS_PULL_REQUEST_ROLE_ARN", description="The repository variable holding the "
        "ARN of the role a pull request's build assumes to pull a base image from ECR (used "
        "only when build.args name ${registry} or ${account_id}).")
    variables: tuple[str, ...] = Field(default=(), description="Repository variables the "
                                       "deploy and test jobs get as environment variables.")
    sbom: bool = Field(default=False, strict=True, description="The build job's push "
                       "attaches a CycloneDX SBOM to each platform image (`push --sbom`).")

    @field_validator("role_variable", "pull_request_role_variable", "variables")
    @classmethod
    def _variable_names(cls, names: str | tuple[str, ...]) -> str | tuple[str, ...]:
        # They go into `${{ vars.NAME }}` expressions: a name, nothing an expression could run.
        for name in (names,) if isinstance(names, str) else names:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,99}", name):
                raise ValueError(f"{name!r} is not a GitHub variable name (letters, digits, _)")
        return names


class ServiceSettings(_Model):
    """[service]: the service and where its images live."""

    name: str = "gamepulse"
    region: str = "ap-northeast-2"
    repository: str = "gamepulse"


class CleanupSettings(_Model):
    """[cleanup]: which of the repository's images `shipyard cleanup` may delete. Whatever it
    says, an image in use, a kept index's children and a kept image's signatures and SBOMs
    stay (see the README's `shipyard cleanup`)."""

    keep_releases: int = Field(default=10, ge=1, le=10000, strict=True, description=(
        "Stable releases (an X.Y.Z tag) kept, the newest by version."))
    prerelease_days: int = Field(default=14, ge=0, le=3650, strict=True, description=(
        "Prereleases pushed longer ago than this may go."))
    prereleases_per_branch: int = Field(default=5, ge=0, le=10000, strict=True, description=(
        "Prereleases kept per branch (develop, pr-42, ...), the newest pushed."))
    keep_tags: list[str] = Field(default_factory=lambda: ["latest"], description=(
        "Glob patterns: an image with a tag that matches one is kept."))
    untagged_hours: int = Field(default=24, ge=1, le=87600, strict=True, description=(
        "Untagged images pushed longer ago than this may go (a push may still be under "
        "way before)."))
    clusters: list[str] = Field(default_factory=list, description=(
        "The clusters whose services' and task sets' images are in use (default: the "
        "environments' clusters)."))
    keep_task_definitions: int = Field(default=10, ge=1, le=10000, strict=True, description=(
        "Task-definition revisions kept per family by `cleanup --task-definitions`, the "
        "newest."))
    never_deployed: list[str] = Field(default_factory=list, description=(
        "Branch slug patterns (`pr-*`) whose prereleases no environment runs: the only "
        "ones `cleanup --lifecycle-policy` lets ECR expire."))

    @field_validator("never_deployed")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        from shipyard.domain.lifecycle import pattern_problem

        for branch in value:
            problem = pattern_problem(branch)
            if problem:
                raise ValueError(f"{problem}; name branches no environment runs, e.g. 'pr-*'")
        return value


class SigningSettings(_Model):
    """[signing]: the key `sign` and `push --sign` sign with, and the keys `verify-image`
    accepts. A key is a PEM file (relative to this file's folder) or `awskms:///alias/NAME`;
    `SHIPYARD_SIGNING_KEY` and `--key` override `key`."""

    key: str = Field(default="", description=(
        "The signing key: a PEM private key file or awskms:///alias/NAME (ECDSA P-256)."))
    verify_keys: list[str] = Field(default_factory=list, description=(
        "Keys whose signatures `verify-image` accepts (PEM public or private key files, or "
        "awskms:/// keys); default: the signing key."))


class Config(_Model):
    """The whole of shipyard.toml, with `project_dir` and resolved paths added on load."""

    service: ServiceSettings = Field(default_factory=ServiceSettings)
    version: VersionSettings = Field(default_factory=VersionSettings)
    tags: TagSettings = Field(default_factory=TagSettings)
    labels: LabelSettings = Field(default_factory=LabelSettings)
    build: BuildSettings = Field(default_factory=BuildSettings)
    repository: RepositoryDefaults = Field(default_factory=RepositoryDefaults)
    scan: ScanSettings = Field(default_factory=ScanSettings)
    demo: DemoSettings = Field(default_factory=DemoSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    loadtest: LoadTestSettings = Field(default_factory=LoadTestSettings)
    ci: CiSettings = Field(default_factory=CiSettings)
    smoke: SmokeSettings = Field(default_factory=SmokeSettings)
    cleanup: CleanupSettings = Field(default_factory=CleanupSettings)
    signing: SigningSettings = Field(default_factory=SigningSettings)
    environments: dict[str, EnvironmentSettings] = Field(default_factory=dict)
    project_dir: Path = Path(".")
    source_file: Path | None = None

    @property
    def version_file(self) -> Path:
        """The version file, resolved against the project folder."""
        return self.project_dir / self.version.file

    def environment(self, name: str) -> EnvironmentSettings:
        """The settings of one environment; a clear error names the ones that exist."""
        if name not in self.environments:
            known = ", ".join(sorted(self.environments)) or "none"
            where = self.source_file or self.project_dir / CONFIG_FILE_NAME
            raise ConfigError(f"environment '{name}' is not in {where} (configured: {known}); "
                              f"add [environments.{name}] or pick another")
        return self.environments[name]

    def path(self, relative: Path) -> Path:
        """A configured path resolved against the project folder (absolute paths stay)."""
        return self.project_dir / relative


def load_config(project_dir: Path) -> Config:
    """Read `project_dir/shipyard.toml` (or use defaults when absent) and validate it.

    >>> load_config(Path("GamePulse")).service.repository
    'gamepulse'
    """
    project_dir = project_dir.resolve()
    if not project_dir.is_dir():
        what = "is not a folder" if project_dir.exists() else "does not exist"
        raise ConfigError(f"project folder {project_dir} {what}; pass an existing folder to -C")
    path = project_dir / CONFIG_FILE_NAME
    present = path.exists() or path.is_symlink()  # a link to nothing is named, not ignored
    data: dict = {}
    if present:
        from shipyard.adapters.text_files import read_user_text
        from shipyard.domain.toml_text import TomlTextError, parse_toml

        # A folder, FIFO, UTF-16 or binary file is named as such, not as a TOML syntax error.
        text = read_user_text(path, limit=_CONFIG_MAX, error=ConfigError,
                              fix="it must be a TOML text file in UTF-8")
        try:
            data = parse_toml(text)
        except TomlTextError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    for reserved in ("project_dir", "source_file"):
        if reserved in data:
            raise ConfigError(f"{path}: '{reserved}' is not a setting; remove it")
    try:
        config = Config.model_validate({**data, "project_dir": project_dir,
                                        "source_file": path if present else None})
    except ValidationError as exc:
        raise ConfigError(_one_line(path, exc)) from exc
    _check_written_paths(config, path)
    return config


# Settings naming a place Shipyard writes (the version file, build layouts, scan reports, the
# demo's base layout). Each must stay inside the project folder, so that a shipyard.toml (one
# from a pull request, say) cannot make a command rewrite a file anywhere else.
WRITTEN_PATHS = (("version", "file"), ("build", "output"), ("scan", "reports_dir"),
                 ("demo", "base_image_layout"), ("loadtest", "reports_dir"))


def outside_project(project_dir: Path, path: Path) -> bool:
    """True when `path` (relative to the project folder, or absolute) leaves the folder by
    its `..` parts or by being absolute. Symlinks are the folder owner's own doing (a cache
    folder on another disk, say) and are not followed."""
    folder = Path(os.path.normpath(project_dir.absolute()))
    return not Path(os.path.normpath(folder / path)).is_relative_to(folder)


def _check_written_paths(config: Config, source: Path) -> None:
    for section, key in WRITTEN_PATHS:
        value = getattr(getattr(config, section), key)
        if value is not None and outside_project(config.project_dir, value):
            raise ConfigError(f"{source}: {section}.{key}: {value} is outside the project "
                              f"folder {config.project_dir}, and Shipyard writes only inside "
                              "it; use a path inside the project folder")


def _one_line(path: Path, exc: ValidationError) -> str:
    """The first validation error as `file: key: what is expected` (+ how many more)."""
    errors = exc.errors()
    first = errors[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown setting; check its spelling against the README's configuration table"
    elif first["type"] in _STRICT_TYPES:
        got = _TOML_KINDS.get(type(first["input"]), "another type")
        message = f"{message}, not {got}; write {_STRICT_TYPES[first['type']]}"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    # A quoted TOML key may hold a newline; the error stays on one line.
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], f"{path}: {key}: {message}{more}")


_STRICT_TYPES = {"bool_type": "true or false, without quotes",
                 "int_type": "a whole number, without quotes",
                 "float_type": "a number, without quotes"}
_TOML_KINDS = {str: "a string", bool: "a boolean", int: "an integer", float: "a number",
               list: "an array", dict: "a table"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
