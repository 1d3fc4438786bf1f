"""`shipyard render|verify|diff ENV` against the sandbox, with GamePulse's own templates."""

from __future__ import annotations

import contextlib
import json
import shutil
import uuid
from pathlib import Path

import boto3
import pytest

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[2] / "GamePulse" / "deploy"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})


class Environment:
    """A staging environment of its own in the shared sandbox: unique names throughout."""

    def __init__(self, repo, sandbox_env: dict, architecture: str = "X86_64") -> None:
        self.repo = repo
        self.id = uuid.uuid4().hex[:8]
        self.region = sandbox_env["AWS_REGION"]
        self.cluster, self.service = f"c-{self.id}", f"s-{self.id}"
        self.secret, self.log_group = f"app/{self.id}", f"/ecs/{self.id}"
        self.fs_param, self.ap_param = f"/{self.id}/efs", f"/{self.id}/ap"
        shutil.copytree(DEPLOY, repo.project / "deploy")
        repo.write("shipyard.toml", f"""
[environments.staging]
cluster = "{self.cluster}"
service = "{self.service}"
task_definition = "deploy/ecs-task-definition-staging.json"
container_name = "gamepulse"
container_port = 8080

[environments.staging.values]
cpu = "512"
memory = "1024"
log_group = "{self.log_group}"
secret_name = "{self.secret}"
efs_parameter = "{self.fs_param}"
efs_access_point_parameter = "{self.ap_param}"
cpu_architecture = "{architecture}"
otel_collector_image = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.1"
""")

    def client(self, service: str):
        return boto3.client(service, region_name=self.region)

    def create(self, *, skip: tuple[str, ...] = ()) -> None:
        """Create what the task definition refers to, except the kinds named in `skip`."""
        if "secret" not in skip:
            self.client("secretsmanager").create_secret(
                Name=self.secret, SecretString=json.dumps({"API_KEY": "k"}))
        efs = self.client("efs")
        fs = efs.create_file_system(CreationToken=self.id)["FileSystemId"]
        ap = efs.create_access_point(FileSystemId=fs, PosixUser={"Uid": 10001, "Gid": 10001})
        ssm = self.client("ssm")
        ssm.put_parameter(Name=self.fs_param, Value=fs, Type="String")
        ssm.put_parameter(Name=self.ap_param, Value=ap["AccessPointId"], Type="String")
        if "log_group" not in skip:
            self.client("logs").create_log_group(logGroupName=self.log_group)
        iam = self.client("iam")
        for role in ("gamepulse-staging-task", "gamepulse-staging-execution"):
            # shared by every test's environment: the first test creates them
            with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
                iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
        ecs = self.client("ecs")
        ecs.create_cluster(clusterName=self.cluster)
        if "service" not in skip:
            arn = self.register({"family": f"f-{self.id}", "containerDefinitions": [
                {"name": "gamepulse", "image": "old", "memory": 512,
                 "portMappings": [{"containerPort": 8080}]}]})
            ecs.create_service(cluster=self.cluster, serviceName=self.service, taskDefinition=arn,
                               desiredCount=1, loadBalancers=[{
                                   "targetGroupArn": "arn:aws:elasticloadbalancing:"
                                   f"{self.region}:123456789012:targetgroup/t/{self.id}",
                                   "containerName": "gamepulse", "containerPort": 8080}])

    def register(self, definition: dict) -> str:
        return self.client("ecs").register_task_definition(**definition)["taskDefinition"][
            "taskDefinitionArn"]

    def run_on(self, arn: str) -> None:
        self.client("ecs").update_service(cluster=self.cluster, service=self.service,
                                          taskDefinition=arn)


@pytest.fixture
def environment(repo, shipyard, sandbox_env, oci_layout_factory) -> Environment:
    """An environment whose image (version 1.1.0, amd64 and arm64) is pushed."""
    env = Environment(repo, sandbox_env)
    repo.commit("environment")
    layout = oci_layout_factory(("linux/amd64", "linux/arm64"))
    pushed = shipyard(repo, "push", "--from-oci", str(layout), "--json")
    assert pushed.code == 0, pushed.err
    env.image = f"{pushed.json()['registry']}/{pushed.json()['repository']}@" \
                f"{pushed.json()['digest']}"
    return env


def test_render_pins_the_image_and_resolves_lookups(environment, repo, shipyard) -> None:
    environment.create()
    result = shipyard(repo, "render", "staging")
    assert result.code == 0, result.err
    definition = json.loads(result.out)
    app, sidecar = definition["containerDefinitions"]
    assert app["image"] == environment.image  # this commit's version, pinned by digest
    secret_arn = environment.client("secretsmanager").describe_secret(
        SecretId=environment.secret)["ARN"]
    assert app["secrets"] == [{"name": "GAMEPULSE_API_KEY",
                               "valueFrom": f"{secret_arn}:API_KEY::"}]
    file_system = environment.client("ssm").get_parameter(Name=environment.fs_param)
    volume = definition["volumes"][0]["efsVolumeConfiguration"]
    assert volume["fileSystemId"] == file_system["Parameter"]["Value"]
    assert app["logConfiguration"]["options"]["awslogs-group"] == environment.log_group
    assert (definition["cpu"], definition["memory"]) == ("512", "1024")
    assert sidecar["name"] == "otel-collector" and app["dependsOn"][0]["containerName"] == \
        "otel-collector"


def test_render_pins_a_given_tag(environment, repo, shipyard, sandbox_env) -> None:
    environment.create()
    base = environment.image.split("@")[0]
    result = shipyard(repo, "render", "staging", "--image", f"{base}:latest")
    assert result.code == 0, result.err
    assert json.loads(result.out)["containerDefinitions"][0]["image"] == environment.image
    unpinned = shipyard(repo, "render", "staging", "--image", "docker.io/library/nginx:1")
    assert unpinned.code == 2 and "is not pinned by digest" in unpinned.err
    missing = shipyard(repo, "render", "staging", "--image", f"{base}:9.9.9")
    assert missing.code == 14 and "is not in ECR" in missing.err


@pytest.mark.parametrize("short", [
    "{repository}:latest",     # a tag of a repository in the service's registry
    ":latest",                 # a tag of the service's repository
    "@{digest}",               # a digest in the service's repository
    "{repository}@{digest}",   # a digest of a repository in the service's registry
])
def test_render_takes_short_image_references(environment, repo, shipyard, sandbox_env,
                                             short) -> None:
    environment.create()
    repository, digest = environment.image.split("/", 1)[1].split("@")
    image = short.format(repository=repository, digest=digest)
    result = shipyard(repo, "render", "staging", "--image", image, "--json")
    assert result.code == 0, result.err
    assert result.json()["image"] == environment.image
    assert result.json()["definition"]["containerDefinitions"][0]["image"] == environment.image


def test_render_classifies_failures_by_cause(environment, repo, shipyard, sandbox_env,
                                             monkeypatch) -> None:
    environment.create()
    # An unreachable AWS endpoint is the network's fault (9), not a missing image (14).
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    unreachable = shipyard(repo, "render", "staging", "--image", ":latest")
    assert unreachable.code == 9 and "cannot reach" in unreachable.err, unreachable.err
    # No credentials at all: exit 8, pointing at the sandbox's environment.
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox_env["AWS_ENDPOINT_URL"])
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    anonymous = shipyard(repo, "render", "staging", "--image", ":latest")
    assert anonymous.code == 8 and "shipyard sandbox env" in anonymous.err, anonymous.err


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # an undefined value: the template, the line and the name
        (lambda t: t.replace("{{ values.cpu }}", "{{ values.cpuu }}"),
         "ecs-task-definition-staging.json line 6: 'dict object' has no attribute 'cpuu'"),
        # an undefined variable
        (lambda t: t.replace("{{ account_id }}", "{{ acount_id }}", 1),
         "line 11: 'acount_id' is undefined"),
        # must_env of something unset
        (lambda t: t.replace('"{{ values.memory }}"', '"{{ must_env(\'GP_MEMORY\') }}"'),
         'line 7: must_env("GP_MEMORY"): GP_MEMORY is not set'),
        # a field ECS does not know
        (lambda t: t.replace('"networkMode"', '"netwrokMode"'),
         'not a valid task definition for ECS: Unknown parameter in input: "netwrokMode"'),
        # a wrong type: cpu is a string in RegisterTaskDefinition
        (lambda t: t.replace('"{{ values.cpu }}"', "512"),
         "Invalid type for parameter cpu (int), valid types: <class 'str'>"),
        # a Jinja syntax error, with its line
        (lambda t: t.replace("{{ values.cpu }}", "{{ values.cpu }"),
         "line 6: template syntax error"),
        # not JSON once rendered
        (lambda t: t.replace('"family": "gamepulse-staging",', '"family": "gamepulse-staging"'),
         "the rendered template is not JSON"),
        # a JSON array, not one object
        (lambda t: f"[{t}]", "is JSON but not an object"),
        # an include of itself: the loop is named, not a RecursionError
        (lambda t: t.replace('{% include "_efs-volume.json" %}',
                             '{% include "ecs-task-definition-staging.json" %}'),
         "the includes form a loop"),
    ],
)
def test_bad_templates(environment, repo, shipyard, edit, message) -> None:
    environment.create()
    template = repo.project / "deploy" / "ecs-task-definition-staging.json"
    template.write_text(edit(template.read_text()))
    result = shipyard(repo, "render", "staging")
    assert result.code == 3, result.err
    assert message in result.err
    assert result.err.count("\n") == 1 and result.out == ""


@pytest.mark.parametrize("placement", [
    ('"{{ values.cpu }}"', '{{ ssm("%s") }}', "parameter cpu (int)"),  # a number-looking secret
    ('"networkMode"', '"ephemeralStorage": {"sizeInGiB": "{{ ssm("%s") }}"}, "networkMode"',
     "parameter ephemeralStorage.sizeInGiB (str)"),
], ids=["number-into-string-field", "string-into-number-field"])
def test_secret_in_a_wrong_type_field_is_not_printed(
        environment, repo, shipyard, placement) -> None:
    environment.create()
    secret, name = "73519428604417", f"/{environment.id}/db-password"
    environment.client("ssm").put_parameter(Name=name, Value=secret, Type="SecureString")
    template = repo.project / "deploy" / "ecs-task-definition-staging.json"
    old, new, where = placement
    assert old in template.read_text()
    template.write_text(template.read_text().replace(old, new % name, 1))
    for command in ("render", "verify"):
        result = shipyard(repo, command, "staging")
        assert result.code in (3, 13), result.err
        assert where in result.out + result.err, result.out + result.err
        assert secret not in result.out + result.err


@pytest.mark.parametrize("name", ["ecs-task-definition-staging.json", "_efs-volume.json"])
def test_a_template_that_is_not_utf8(environment, repo, shipyard, name) -> None:
    environment.create()
    template = repo.project / "deploy" / name
    template.write_bytes(template.read_text().encode("utf-16"))
    for command in ("render", "verify"):
        result = shipyard(repo, command, "staging")
        assert result.code == 3, result.err
        assert f"{name} is UTF-16 text, not UTF-8; save it as UTF-8" in result.err
        assert result.err.count("\n") == 1 and result.out == ""


def test_missing_lookups_and_environments(environment, repo, shipyard) -> None:
    environment.create(skip=("secret",))
    result = shipyard(repo, "render", "staging")
    assert result.code == 3
    assert f'secret_arn("{environment.secret}"): no such secret in Secrets Manager' in result.err
    # verify lists the missing secret in its checklist (exit 13), with every other check
    verified = shipyard(repo, "verify", "staging", "--json")
    assert verified.code == 13, verified.err
    checks = {c["name"]: c for c in verified.json()["checks"]}
    assert checks[f"template lookup secret {environment.secret}"]["status"] == "fail"
    assert checks["definition"]["status"] == "ok" and len(checks) > 5
    unknown = shipyard(repo, "render", "qa")
    assert unknown.code == 3 and "environment 'qa' is not in" in unknown.err


def test_verify_passes_when_everything_exists(environment, repo, shipyard) -> None:
    environment.create()
    result = shipyard(repo, "verify", "staging", "--json")
    assert result.code == 0, result.err
    checks = {c["name"]: c for c in result.json()["checks"]}
    # a check that could not run is "skipped" with its reason, never "ok"
    sidecar = checks.pop("image of otel-collector")
    assert sidecar["status"] == "skipped" and "cannot inspect" in sidecar["detail"]
    assert all(c["status"] == "ok" for c in checks.values()), checks
    assert "has linux/amd64" in checks["image of gamepulse"]["detail"]
    assert checks["load balancer target"]["detail"] == "gamepulse:8080"
    assert result.json()["skipped"] == 1 and result.json()["failed"] == 0


def test_verify_lists_every_missing_resource(environment, repo, shipyard) -> None:
    environment.create(skip=("log_group", "service"))
    template = repo.project / "deploy" / "ecs-task-definition-staging.json"
    template.write_text(template.read_text().replace("gamepulse-staging-task", "no-such-role"))
    result = shipyard(repo, "verify", "staging")
    assert result.code == 13
    failed = [line for line in result.out.splitlines() if line.startswith("FAIL")]
    assert failed == [
        f"FAIL log group {environment.log_group}: missing; create it or set "
        "awslogs-create-group",
        "FAIL taskRoleArn no-such-role: arn:aws:iam::123456789012:role/no-such-role does not "
        "exist",
        f"FAIL service {environment.service}: not in cluster {environment.cluster}; "
        "create it first",
    ]
    assert result.err.startswith(f"error: verify staging: log group {environment.log_group}")
    assert "(and 2 more)" in result.err


def test_verify_catches_an_image_without_the_task_platform(repo, shipyard, sandbox_env,
                                                           oci_layout_factory) -> None:
    environment = Environment(repo, sandbox_env, architecture="ARM64")
    repo.commit("environment")
    amd64_only = oci_layout_factory(("linux/amd64", "linux/386"))
    assert shipyard(repo, "push", "--from-oci", str(amd64_only)).code == 0
    environment.create()
    result = shipyard(repo, "verify", "staging", "--json")
    assert result.code == 13
    check = next(c for c in result.json()["checks"] if c["name"] == "image of gamepulse")
    assert "has no linux/arm64 image (it has 386, amd64)" in check["detail"]


def test_verify_reads_a_single_platform_image_config(repo, shipyard, sandbox_env,
                                                     oci_layout_factory) -> None:
    """A single-platform image's manifest does not name its architecture: its config does."""
    environment = Environment(repo, sandbox_env, architecture="ARM64")
    repo.commit("environment")
    amd64 = oci_layout_factory(("linux/amd64",))
    assert shipyard(repo, "push", "--from-oci", str(amd64)).code == 0
    environment.create()
    result = shipyard(repo, "verify", "staging", "--json")
    assert result.code == 13, result.err
    check = next(c for c in result.json()["checks"] if c["name"] == "image of gamepulse")
    assert check["status"] == "fail" and "(it has amd64)" in check["detail"]


def test_diff_shows_changes_and_nothing_once_registered(environment, repo, shipyard) -> None:
    environment.create()
    changed = shipyard(repo, "diff", "staging", "--json")
    assert changed.code == 0, changed.err
    assert changed.json()["changed"] is True
    assert '+      "image": "' + environment.image in changed.json()["diff"]
    # register exactly what was rendered, run it, and the diff is empty: describe-only fields
    # (revision, status, registeredAt, ...) and ECS's defaults do not count as changes
    rendered = json.loads(shipyard(repo, "render", "staging").out)
    environment.run_on(environment.register(rendered))
    same = shipyard(repo, "diff", "staging", "--json")
    assert same.json()["changed"] is False, same.json()["diff"]
    plain = shipyard(repo, "diff", "staging")
    assert plain.out == "" and "no changes: staging runs" in plain.err
    assert shipyard(repo, "diff", "staging", "--exit-code").code == 0


def test_diff_exit_code_says_whether_they_differ(environment, repo, shipyard) -> None:
    environment.create()
    assert shipyard(repo, "diff", "staging").code == 0  # without --exit-code: 0 either way
    differs = shipyard(repo, "diff", "staging", "--exit-code")
    assert differs.code == 1 and differs.out.startswith("--- ")
