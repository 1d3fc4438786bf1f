"""GamePulse's deploy role (`GitHubDeployRole` in GamePulse/infra/gamepulse.yaml) allows every
AWS call the pipeline's commands make, and nothing they do not.

The calls are recorded for real: the pipeline's commands (`push --scan` of a build FROM a
base image in the registry and of OCI layouts, `render`, `verify`, `diff`, `deploy` rolling
and blue/green, a failing deploy, `rollback` of a finished and of a running deployment,
`status`) run in-process against the sandbox, on the deploy tests' world
(tests/integration/deploy: a miniature of GamePulse's infrastructure), made GamePulse-like
first: the repository and base repository, secrets, SSM parameters, EFS file systems, task
and execution roles, log groups and topic GamePulse's task definitions and shipyard.toml use,
under the world's name. A botocore hook on every
client Shipyard makes records each operation with its parameters; a wrapper around the
registry client's requests records each registry request.

Each call becomes the IAM permissions AWS checks for it (mostly `service:Operation` on the
resource its parameters name), plus those AWS checks behind it: ECR's registry API is
authorized as ECR actions by method and path, `CreateDeployment` needs the revision and
config reads, `RegisterTaskDefinition` needs `iam:PassRole` of its roles (and
`ecs:TagResource` with tags). The world's names map to GamePulse's (the world's name
becomes `gamepulse`, EFS ids become the template's file systems); the role's policy is read
from the template with its intrinsic functions resolved to GamePulse's ARNs; then:

- every permission needed is allowed by a statement whose action, resource and condition
  match (the resource ARN too, where the template scopes it);
- every action the role allows is needed by some command, or is in NOT_EXERCISED with why;
- a statement with `Resource: "*"` holds only actions that have no resource-level
  permissions, and every resource a statement names is used.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tomllib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shipyard.adapters import aws as aws_adapter
from shipyard.adapters.registry import transport
from shipyard_sandbox.provision import Resolver, load_template

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
GAMEPULSE = HERE.parents[1] / "GamePulse"
TEMPLATE = GAMEPULSE / "infra" / "gamepulse.yaml"
ROLE = "GitHubDeployRole"
DEPLOYMENT_FAILED = 15  # ExitCode.DEPLOYMENT

_spec = importlib.util.spec_from_file_location("deploy_world", HERE / "deploy" / "conftest.py")
assert _spec and _spec.loader
deploy_world = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = deploy_world
_spec.loader.exec_module(deploy_world)
world = deploy_world.world  # the deploy tests' world, one for this module

# Allowed though no command here makes the call; each with the reason the role needs it.
NOT_EXERCISED = {
    "ecr:BatchDeleteImage": "`cleanup --yes` deletes what the policy lets go; GamePulse's "
                            "policy keeps every image this test pushes",
    "ecr:StartImageScan": "`push --scan` starts a basic scan when ECR has none for an image "
                          "(scan-on-push finished here before the scan was asked for)",
    "ecs:ListTaskDefinitions": "rollback finds the previous revision this way once ECS no "
                               "longer lists the deployment before (it keeps INACTIVE ones "
                               "minutes; the sandbox keeps them)",
}

# Operations AWS authorizes without a policy (GetCallerIdentity needs no permission).
NO_PERMISSION = {"sts:GetCallerIdentity"}

# Actions with no resource-level permissions: only `Resource: "*"` grants them.
UNSCOPED = {
    "ecr:GetAuthorizationToken", "ecr:GetRegistryScanningConfiguration",
    "ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions",
    "ecs:ListServices",  # its cluster is a condition key (ecs:cluster), not a resource
    "cloudwatch:PutMetricData", "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTargetHealth",
}

IAM_PREFIX = {"elbv2": "elasticloadbalancing", "efs": "elasticfilesystem"}


# --- recording ------------------------------------------------------------------------------


@dataclass
class Recorder:
    """The AWS operations and registry requests of each command, in order."""

    command: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        watch = aws_adapter.watch_aws_client

        def watching(client: Any, service: str) -> Any:
            def called(params: dict[str, Any], model: Any, **_: object) -> None:
                self.calls.append({"command": self.command, "service": service,
                                   "operation": model.name, "params": dict(params)})
            # provide-client-params: once per operation (not per retry), with its parameters
            client.meta.events.register("provide-client-params", called)
            return watch(client, service)

        monkeypatch.setattr(aws_adapter, "watch_aws_client", watching)
        registry_call = transport.registry_call

        @contextmanager
        def recording(method: str, url: object, params: object = None) -> Iterator[Any]:
            self.calls.append({"command": self.command, "method": method, "url": str(url),
                               "params": params})
            with registry_call(method, url, params) as call:
                yield call

        monkeypatch.setattr(transport, "registry_call", recording)


# --- the world made GamePulse-like ----------------------------------------------------------

TASK_DEFINITION = """{#- GamePulse's task definitions' shape, on the deploy tests' busybox image -#}
{
  "family": "{{ service }}",
  "cpu": "256",
  "memory": "512",
  "networkMode": "awsvpc",
  "requiresCompatibilities": ["FARGATE"],
  "executionRoleArn": "arn:aws:iam::{{ account_id }}:role/{{ service }}-execution",
  "taskRoleArn": "arn:aws:iam::{{ account_id }}:role/{{ service }}-task",
  "containerDefinitions": [
    {
      "name": "web",
      "image": "{{ image }}",
      "essential": true,
      "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
      "environment": [{"name": "DEPLOY_ENVIRONMENT", "value": "{{ environment }}"}],
      "secrets": [
        {"name": "API_KEY", "valueFrom": "{{ secret_arn(values.secret_name) }}:API_KEY::"}
      ],
      "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": false}],
      "healthCheck": {
        "command": ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/health"],
        "interval": 5, "timeout": 2, "retries": 2, "startPeriod": 1
      },
      "stopTimeout": 2,
      "logConfiguration": {
        "logDriver": "awslogs",
        "options": {
          "awslogs-group": "{{ values.log_group }}",
          "awslogs-region": "{{ region }}",
          "awslogs-stream-prefix": "web"
        }
      }
    }
  ],
  "volumes": [
    {
      "name": "data",
      "efsVolumeConfiguration": {
        "fileSystemId": "{{ ssm(values.efs_parameter) }}",
        "transitEncryption": "ENABLED",
        "authorizationConfig": {
          "accessPointId": "{{ ssm(values.efs_access_point_parameter) }}",
          "iam": "ENABLED"
        }
      }
    }
  ],
  "tags": [{"key": "environment", "value": "{{ environment }}"}]
}
"""


def _toml(value: Any) -> str:
    return json.dumps(value)  # strings, booleans and lists of strings: JSON is TOML here


def project_config(name: str, region: str) -> str:
    """The world project's shipyard.toml: GamePulse's settings for the repository, scan,
    notifications and metrics (its names made the world's), and its two environments'
    strategies and lookups."""
    gamepulse = tomllib.loads((GAMEPULSE / "shipyard.toml").read_text())
    notifications = gamepulse.get("notifications", {})
    # GamePulse's Slack URL comes from a variable, not a secret (the role reads no secret);
    # should that change, this test must make the secret and record its read.
    assert "slack_webhook_secret" not in notifications
    listener = f"SHIPYARD_LISTENER_{name.upper()}"
    lines = [f'[service]\nname = "{name}"\nregion = "{region}"\nrepository = "{name}"\n',
             "[repository]"]
    lines += [f"{key} = {_toml(value)}" for key, value in gamepulse["repository"].items()]
    lines += ["[scan]"] + [f"{k} = {_toml(v)}" for k, v in gamepulse.get("scan", {}).items()]
    lines += ["[notifications]", 'sns_topic = ' + _toml(
        notifications["sns_topic"].replace("gamepulse", name))]
    lines += ["[metrics]"] + [f"{k} = {_toml(v)}" for k, v in gamepulse["metrics"].items()]
    assert gamepulse["signing"]["key"] == "awskms:///alias/gamepulse-signing"
    lines += ["[signing]", f'key = "awskms:///alias/{name}-signing"']
    # GamePulse builds FROM its base image in the registry it pushes to (gamepulse-base)
    lines += ["[build]", 'platforms = ["linux/amd64"]', "[build.args]",
              f'BASE_IMAGE = "${{registry}}/{name}-base:1.0.0"']
    for env, port in (("staging", 8081), ("production", 80)):
        settings = gamepulse["environments"][env]
        lines += [f"[environments.{env}]", f'cluster = "{name}"',
                  f'service = "{name}-{env}"', 'task_definition = "deploy/task-definition.json"',
                  f'deployment = "{settings["deployment"]}"', 'container_name = "web"',
                  "container_port = 8080", "desired_count = 1", "timeout = 120.0",
                  f"require_approval = {_toml(settings.get('require_approval', False))}"]
        if settings["deployment"] == "blue_green":
            lines += [f'codedeploy_application = "{name}"', f'codedeploy_group = "{name}-{env}"']
        if settings.get("policy"):  # production's gate, as GamePulse's; the test's images
            # come from OCI layouts, labelled with their version only
            policy = {**settings["policy"], "labels": ["org.opencontainers.image.version"]}
            lines += [f"[environments.{env}.policy]"]
            lines += [f"{key} = {_toml(value)}" for key, value in policy.items()]
        lines += [f"[environments.{env}.values]", f'secret_name = "{name}/{env}/app"',
                  f'log_group = "/ecs/{name}-{env}"',
                  f'efs_parameter = "/{name}/{env}/efs-file-system-id"',
                  f'efs_access_point_parameter = "/{name}/{env}/efs-access-point-id"',
                  f"[environments.{env}.health]", f'url = "${{{listener}_{port}}}"',
                  "timeout = 20.0"]
    return "\n".join(lines) + "\n"


def make_gamepulse_like(world: Any, shipyard: Any, images: Path) -> dict[str, str]:
    """Create what GamePulse's template creates and its commands use, under the world's name;
    the world's EFS ids and the template's logical ids they stand for."""
    name = world.name
    world.client("ecr").create_repository(
        repositoryName=name, imageScanningConfiguration={"scanOnPush": True},
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"}],
        encryptionConfiguration={"encryptionType": "AES256"})
    world.client("sns").create_topic(Name=f"{name}-deployments")
    iam, logs, secrets = world.client("iam"), world.client("logs"), world.client("secretsmanager")
    efs, ssm = world.client("efs"), world.client("ssm")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole"}]})
    file_systems = {}
    for env in ("staging", "production"):
        for kind in ("execution", "task"):
            iam.create_role(RoleName=f"{name}-{env}-{kind}", AssumeRolePolicyDocument=trust)
        logs.create_log_group(logGroupName=f"/ecs/{name}-{env}")
        secrets.create_secret(Name=f"{name}/{env}/app", SecretString=json.dumps(
            {"DATABASE_URL": "postgres://db/app", "API_KEY": "k" * 40}))
        made = efs.create_file_system(CreationToken=f"{name}-{env}", Encrypted=True)
        point = efs.create_access_point(FileSystemId=made["FileSystemId"],
                                        PosixUser={"Uid": 10001, "Gid": 10001})
        ssm.put_parameter(Name=f"/{name}/{env}/efs-file-system-id", Type="String",
                          Value=made["FileSystemId"])
        ssm.put_parameter(Name=f"/{name}/{env}/efs-access-point-id", Type="String",
                          Value=point["AccessPointId"])
        file_systems[made["FileSystemId"]] = f"{env.capitalize()}FileSystem"
        file_systems[point["AccessPointId"]] = f"{env.capitalize()}AccessPoint"
    # the signing key (SigningKey): `push --sign` signs with it, `verify-image` reads it
    kms = world.client("kms")
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"][
        "KeyId"]
    kms.create_alias(AliasName=f"alias/{name}-signing", TargetKeyId=key_id)
    file_systems[key_id] = "SigningKey"
    project = world.repo.project
    (project / "shipyard.toml").write_text(project_config(name, world.region))
    (project / "deploy" / "task-definition.json").write_text(TASK_DEFINITION)
    # The image is built FROM the base (the web image of 1.0.0), serving its own version.
    (project / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n"
                                        "COPY version.json /www/version\n")
    (project / "version.json").write_text('{"version": "1.1.0"}\n')
    world.repo.git("add", "-A")
    world.repo.git("commit", "-q", "-m", "GamePulse's settings, lookups, roles and base image")
    base = deploy_world.web_image(images / "base", "1.0.0")
    pushed = world.run(shipyard, "push", "--from-oci", str(base), "--version", "1.0.0",
                       env={"ECR_REPOSITORY": f"{name}-base"})
    assert pushed.code == 0, pushed.err
    return file_systems


def run_pipeline(world: Any, shipyard: Any, recorder: Recorder, images: Path) -> None:
    """The CI pipeline's commands, and the failure and rollback paths of deploy."""

    def run(*args: str, expect: int = 0) -> Any:
        recorder.command = " ".join(args)
        result = world.run(shipyard, *args)
        assert result.code == expect, f"{recorder.command}:\n{result.out}{result.err}"
        assert "warning:" not in result.err, result.err  # a notification or metric not sent
        return result

    def push(version: str, kind: str = "good") -> str:
        world.repo.git("commit", "-q", "--allow-empty", "-m", f"{version}-{kind}")
        layout = deploy_world.web_image(images / f"{version}-{kind}", version, kind)
        pushed = run("push", "--from-oci", str(layout), "--version", version, "--scan",
                     "--sbom", "--sign", "--json").json()
        return f"{pushed['registry']}/{pushed['repository']}@{pushed['digest']}"

    recorder.command = "push --scan --sbom --sign (a build FROM the base image)"
    built = world.run(shipyard, "push", "--version", "1.1.0", "--scan", "--sbom", "--sign",
                      "--json")
    assert built.code == 0, built.out + built.err
    assert built.json()["mounted_blobs"] > 0  # the base's layers, mounted from its repository
    image = f"{built.json()['registry']}/{built.json()['repository']}@{built.json()['digest']}"
    run("verify-image", image.rsplit("@", 1)[1])
    # (deploy runs them too, for production below)
    run("render", "staging", "--image", image)
    run("verify", "staging", "--image", image)
    run("diff", "staging", "--image", image)
    run("deploy", "staging", "--image", image)
    run("deploy", "production", "--image", image, "--yes",
        "--deployment-config", "CodeDeployDefault.ECSAllAtOnce")
    # a failing rolling deploy: its explanation reads the stopped tasks and their logs
    run("deploy", "staging", "--image", push("1.2.0", "exits"), expect=DEPLOYMENT_FAILED)
    newer = push("1.3.0")
    run("deploy", "staging", "--image", newer)  # production's gate: promoted from staging
    run("deploy", "production", "--version", "1.3.0", "--yes")  # the tag's image in ECR
    run("rollback", "production", "--yes")  # a new deployment of the previous revision
    # a canary that takes 30 s at the sandbox's time scale: still running when rollback asks
    run("deploy", "production", "--image", newer, "--yes", "--no-wait",
        "--deployment-config", "CodeDeployDefault.ECSCanary10Percent15Minutes")
    run("rollback", "production", "--yes")  # StopDeployment with rollback
    run("deploy", "staging", "--image", image, "--no-wait")
    run("rollback", "staging", "--no-wait")  # back to the deployment in progress's previous
    run("status", "staging")
    run("status", "production")
    run("cleanup")  # the plan: images, manifests, what the cluster's services run
    run("cleanup", "--yes")


# --- calls to IAM permissions ---------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    """One permission AWS checks: an action on a resource ("*": no resource-level
    permissions), with the condition keys the request carries."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()
    command: str = ""

    def __str__(self) -> str:
        context = "".join(f" [{k}={v}]" for k, v in self.context)
        return f"{self.action} on {self.resource}{context} (by `{self.command}`)"


class Arns:
    """ARNs in the sandbox's account and region."""

    def __init__(self, account: str, region: str) -> None:
        self.account, self.region = account, region

    def __call__(self, service: str, resource: str, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account}:{resource}"


REGISTRY_ACTIONS = {  # (method, the path's kind) -> the ECR actions that authorize it
    ("HEAD", "manifests"): ("ecr:BatchGetImage",),
    ("GET", "manifests"): ("ecr:BatchGetImage",),
    ("PUT", "manifests"): ("ecr:PutImage",),
    ("DELETE", "manifests"): ("ecr:BatchDeleteImage",),
    ("HEAD", "blobs"): ("ecr:BatchCheckLayerAvailability",),
    ("GET", "blobs"): ("ecr:GetDownloadUrlForLayer",),
    ("POST", "uploads"): ("ecr:InitiateLayerUpload",),
    ("PATCH", "uploads"): ("ecr:UploadLayerPart",),
    # a monolithic PUT carries the layer: ECR counts it as a part and the completion
    ("PUT", "uploads"): ("ecr:UploadLayerPart", "ecr:CompleteLayerUpload"),
    ("GET", "tags"): ("ecr:ListImages",),
}


def registry_needs(call: dict[str, Any], arns: Arns) -> list[tuple[str, str]]:
    path = urlsplit(call["url"]).path
    if path.rstrip("/") == "/v2":
        return []  # the API version check: authorized by the token (GetAuthorizationToken)
    repository, _, rest = path.removeprefix("/v2/").partition("/")
    kind = "uploads" if rest.startswith("blobs/uploads") else rest.split("/", 1)[0]
    actions = REGISTRY_ACTIONS.get((call["method"], kind))
    assert actions, f"no IAM rule for the registry request {call['method']} {path}"
    needs = [(action, arns("ecr", f"repository/{repository}")) for action in actions]
    query = parse_qs(urlsplit(call["url"]).query)
    if isinstance(call.get("params"), (list, tuple, dict)):
        for key, value in dict(call["params"]).items():
            query.setdefault(key, []).append(value)
    for source in query.get("from", []) if "mount" in query else []:
        # mounting a blob needs it readable in the repository it is mounted from
        needs.append(("ecr:GetDownloadUrlForLayer", arns("ecr", f"repository/{source}")))
    return needs


class Translator:
    """A recorded call's permissions, on the world's resources."""

    def __init__(self, world: Any, arns: Arns) -> None:
        self.world, self.arns = world, arns
        group = world.client("codedeploy").get_deployment_group(
            applicationName=world.name, deploymentGroupName=f"{world.name}-production")
        self.group_config = group["deploymentGroupInfo"]["deploymentConfigName"]
        self._secrets: dict[str, str] = {}

    def needs(self, call: dict[str, Any]) -> list[Need]:
        if "method" in call:
            found: Iterable[tuple[Any, ...]] = registry_needs(call, self.arns)
        else:
            action = f"{IAM_PREFIX.get(call['service'], call['service'])}:{call['operation']}"
            found = self._aws(action, call["params"])
        return [Need(action, resource, context[0] if context else (), call["command"])
                for action, resource, *context in found]

    def _aws(self, action: str, p: dict[str, Any]) -> Iterable[tuple[Any, ...]]:
        arns = self.arns
        service = action.split(":")[0]
        if action in NO_PERMISSION:
            return
        if action == "ecs:RegisterTaskDefinition":  # AWS checks these behind it
            for role in (p.get("taskRoleArn"), p.get("executionRoleArn")):
                if role:
                    yield ("iam:PassRole", role,
                           (("iam:PassedToService", "ecs-tasks.amazonaws.com"),))
            if p.get("tags"):  # tags on create need TagResource, for this create action
                yield ("ecs:TagResource", arns("ecs", f"task-definition/{p['family']}:*"),
                       (("ecs:CreateAction", "RegisterTaskDefinition"),))
        if action == "ecs:ListServices":  # no resource-level permissions; the cluster is a
            yield action, "*", (("ecs:cluster", arns("ecs", f"cluster/{p['cluster']}")),)
        elif action in UNSCOPED:
            yield action, "*", self._conditions(action, p)
        elif service == "ecr":
            names = p.get("repositoryNames") or [p["repositoryName"]]
            for repository in names:
                yield action, arns("ecr", f"repository/{repository}")
        elif action in ("ecs:DescribeServices", "ecs:UpdateService"):
            for svc in p.get("services") or [p["service"]]:
                yield action, arns("ecs", f"service/{p['cluster']}/{svc.rsplit('/', 1)[-1]}")
        elif action == "ecs:DescribeClusters":
            for cluster in p["clusters"]:
                yield action, arns("ecs", f"cluster/{cluster.rsplit('/', 1)[-1]}")
        elif action == "ecs:DescribeTasks":
            for task in p["tasks"]:
                yield action, arns("ecs", f"task/{p['cluster']}/{task.rsplit('/', 1)[-1]}")
        elif action == "ecs:ListTasks":  # authorized on the cluster's container instances
            yield action, arns("ecs", f"container-instance/{p['cluster']}/*")
        elif service == "codedeploy":
            yield from self._codedeploy(action, p)
        elif service == "secretsmanager":
            yield action, self._secret_arn(p["SecretId"])
        elif action == "ssm:GetParameter":
            yield action, arns("ssm", f"parameter/{p['Name'].lstrip('/')}")
        elif action == "logs:DescribeLogGroups":  # a listing: authorized on log-group:*
            yield action, arns("logs", "log-group:*")
        elif action == "logs:GetLogEvents":
            yield action, arns(
                "logs", f"log-group:{p['logGroupName']}:log-stream:{p['logStreamName']}")
        elif action == "iam:GetRole":
            yield action, arns("iam", f"role/{p['RoleName']}", region=False)
        elif action == "elasticfilesystem:DescribeFileSystems":
            yield action, arns("elasticfilesystem", f"file-system/{p['FileSystemId']}")
        elif action == "sns:Publish":
            yield action, p["TopicArn"]
        elif service == "kms":  # authorized on the key, whether named by alias or id
            key = self.world.client("kms").describe_key(KeyId=p["KeyId"])["KeyMetadata"]
            yield action, arns("kms", f"key/{key['KeyId']}")
        else:
            raise AssertionError(f"no IAM rule for {action}: add one to this test")

    def _codedeploy(self, action: str, p: dict[str, Any]) -> Iterable[tuple[Any, ...]]:
        arns, name = self.arns, self.world.name
        # Calls that name a deployment id are authorized on its group: the world has one.
        group = arns("codedeploy", "deploymentgroup:{}/{}".format(
            p.get("applicationName", name), p.get("deploymentGroupName", f"{name}-production")))
        if action == "codedeploy:GetDeploymentConfig":
            yield action, arns("codedeploy", f"deploymentconfig:{p['deploymentConfigName']}")
            return
        yield action, group
        if action == "codedeploy:CreateDeployment":  # AWS checks these behind it
            config = p.get("deploymentConfigName") or self.group_config
            yield ("codedeploy:GetDeploymentConfig",
                   arns("codedeploy", f"deploymentconfig:{config}"))
            application = arns("codedeploy", f"application:{p['applicationName']}")
            yield "codedeploy:RegisterApplicationRevision", application
            yield "codedeploy:GetApplicationRevision", application

    def _secret_arn(self, secret_id: str) -> str:
        if secret_id not in self._secrets:
            self._secrets[secret_id] = self.world.client("secretsmanager").describe_secret(
                SecretId=secret_id)["ARN"]
        return self._secrets[secret_id]

    @staticmethod
    def _conditions(action: str, p: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        if action == "cloudwatch:PutMetricData":
            return (("cloudwatch:namespace", p["Namespace"]),)
        return ()


def as_gamepulse(need: Need, world_name: str, renames: dict[str, str]) -> Need:
    """The need on GamePulse's resources: the world's name is GamePulse's, its EFS ids the
    template's file systems."""
    resource = need.resource.replace(world_name, "gamepulse")
    for ident, logical_id in renames.items():
        resource = resource.replace(ident, logical_id)
    context = tuple((key, value.replace(world_name, "gamepulse")) for key, value in need.context)
    return Need(need.action, resource, context, need.command)


# --- the role's policy ----------------------------------------------------------------------


def role_statements(account: str, region: str,
                    template_path: Path = TEMPLATE) -> list[dict[str, Any]]:
    """The deploy role's inline policy statements, intrinsics resolved to GamePulse's ARNs.

    Refs: a parameter is its default; a resource is what CloudFormation returns for its type
    (an ARN, a name, an id: an id stands for itself by its logical id); a secret's ARN ends in
    CloudFormation's random six characters, matched by `??????`.
    """
    template = load_template(template_path)
    arns = Arns(account, region)
    resources = template["Resources"]
    refs: dict[str, Any] = {key: spec.get("Default", "") for key, spec in
                            template.get("Parameters", {}).items()}
    refs |= {"GitHubRepository": "octo-org/gamepulse", "AWS::Partition": "aws",
             "AWS::Region": region, "AWS::AccountId": account, "AWS::URLSuffix": "amazonaws.com"}
    attributes: dict[tuple[str, str], str] = {}
    for logical_id, resource in resources.items():
        props, kind = resource.get("Properties", {}), resource["Type"]
        ref = logical_id
        if kind == "AWS::ECS::Cluster":
            ref = props["ClusterName"]
        elif kind == "AWS::ECS::Service":
            cluster = resources[props["Cluster"]["Ref"]]["Properties"]["ClusterName"]
            ref = arns("ecs", f"service/{cluster}/{props['ServiceName']}")
        elif kind == "AWS::SecretsManager::Secret":
            ref = arns("secretsmanager", f"secret:{props['Name']}-??????")
        elif kind == "AWS::SNS::Topic":
            ref = arns("sns", props["TopicName"])
        elif kind == "AWS::CodeDeploy::Application":
            ref = props["ApplicationName"]
        elif kind == "AWS::CodeDeploy::DeploymentGroup":
            ref = props["DeploymentGroupName"]
        elif kind == "AWS::Logs::LogGroup":
            ref = props["LogGroupName"]
            attributes[(logical_id, "Arn")] = arns("logs", f"log-group:{ref}:*")
        elif kind == "AWS::ECR::Repository":
            ref = props["RepositoryName"]
            attributes[(logical_id, "Arn")] = arns("ecr", f"repository/{ref}")
        elif kind == "AWS::IAM::Role":
            ref = props["RoleName"]
            attributes[(logical_id, "Arn")] = arns("iam", f"role/{ref}", region=False)
        elif kind == "AWS::KMS::Key":  # its id stands for itself by its logical id
            attributes[(logical_id, "Arn")] = arns("kms", f"key/{logical_id}")
        refs[logical_id] = ref

    def attribute(logical_id: str, name: str) -> str:
        assert (logical_id, name) in attributes, f"the test cannot resolve {logical_id}.{name}"
        return attributes[(logical_id, name)]

    resolver = Resolver(template, refs, attribute)
    statements = []
    for policy in resources[ROLE]["Properties"]["Policies"]:
        statements += resolver.value(policy["PolicyDocument"])["Statement"]
    return statements


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, tests in condition.items():
        assert operator in ("StringEquals", "StringLike"), f"unsupported condition {operator}"
        for key, wanted in tests.items():
            if key not in context:
                return False
            value = context[key]
            if operator == "StringEquals" and value not in _listed(wanted):
                return False
            if operator == "StringLike" and not any(fnmatchcase(value, w)
                                                    for w in _listed(wanted)):
                return False
    return True


def matches(statement: dict[str, Any], need: Need) -> bool:
    assert not {"NotAction", "NotResource"} & set(statement), "unsupported statement"
    if not any(fnmatchcase(need.action.lower(), a.lower()) for a in _listed(statement["Action"])):
        return False
    # `*` in a pattern matches any characters, as IAM's does; a need of "*" (an action
    # without resource-level permissions) is granted only by "*"
    if not any(fnmatchcase(need.resource, r) for r in _listed(statement["Resource"])):
        return False
    return _condition_holds(statement.get("Condition", {}), dict(need.context))


def denied(statements: list[dict[str, Any]], needs: Iterable[Need]) -> list[Need]:
    """The needs no Allow statement grants (or a Deny refuses)."""
    refused = []
    for need in needs:
        applying = [s for s in statements if matches(s, need)]
        if not any(s["Effect"] == "Allow" for s in applying) or any(
                s["Effect"] == "Deny" for s in applying):
            refused.append(need)
    return refused


def excess(statements: list[dict[str, Any]], needs: list[Need]) -> list[str]:
    """What the policy allows beyond the needs: actions no command needs (and not in
    NOT_EXERCISED), `*` resources for actions that have resource-level permissions, and
    resources no need uses."""
    found = []
    needed = {need.action for need in needs}
    for statement in statements:
        actions = _listed(statement["Action"])
        sid = statement.get("Sid", "?")
        for action in actions:
            if "*" in action:
                found.append(f"{sid}: the wildcard action {action}")
            elif action not in needed and action not in NOT_EXERCISED:
                found.append(f"{sid}: {action} is allowed but no command calls it")
        for resource in _listed(statement["Resource"]):
            if resource == "*":
                found += [f"{sid}: {action} on * (it has resource-level permissions)"
                          for action in actions if action not in UNSCOPED]
            elif all(a in NOT_EXERCISED for a in actions):
                continue
            elif not any(matches({**statement, "Resource": resource}, need) for need in needs):
                found.append(f"{sid}: no command uses the resource {resource}")
    return found


# --- the test -------------------------------------------------------------------------------


@pytest.mark.slow  # about a minute: two dozen commands, a build and a failing deploy
def test_the_deploy_role_allows_what_the_pipeline_calls_and_no_more(
        world, shipyard, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ecr = world.client("ecr")
    ecr.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")  # as GamePulse's template
    try:
        renames = make_gamepulse_like(world, shipyard, tmp_path)
        recorder = Recorder()
        recorder.install(monkeypatch)
        run_pipeline(world, shipyard, recorder, tmp_path)
    finally:  # other tests of the session expect ECR's default
        ecr.put_account_setting(name="BLOB_MOUNTING", value="DISABLED")
    account = world.client("sts").get_caller_identity()["Account"]
    arns = Arns(account, world.region)

    translate = Translator(world, arns)
    needs = [as_gamepulse(need, world.name, renames)
             for call in recorder.calls for need in translate.needs(call)]
    commands = {call["command"].split()[0] for call in recorder.calls}
    assert commands >= {"push", "render", "verify", "diff", "deploy", "rollback", "status"}
    unique = list(dict.fromkeys(Need(n.action, n.resource, n.context) for n in needs))
    by_key = {Need(n.action, n.resource, n.context): n for n in needs}
    statements = role_statements(account, world.region)

    refused = [by_key[n] for n in denied(statements, unique)]
    beyond = excess(statements, unique)
    assert not NOT_EXERCISED.keys() & {n.action for n in unique}, \
        "an action in NOT_EXERCISED is exercised now: take it off the list"
    assert not refused and not beyond, (
        "the deploy role does not allow:\n  " + "\n  ".join(map(str, refused))
        + "\nthe deploy role allows more than the commands need:\n  " + "\n  ".join(beyond))


# --- the check itself can fail ----------------------------------------------------------------

POLICY = [
    {"Effect": "Allow", "Action": ["ecs:UpdateService", "ecs:DescribeServices"],
     "Resource": ["arn:aws:ecs:r:1:service/gamepulse/gamepulse-staging"]},
    {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::1:role/task",
     "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}},
    {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
     "Condition": {"StringEquals": {"cloudwatch:namespace": "Shipyard/Deployments"}}},
]
STAGING = "arn:aws:ecs:r:1:service/gamepulse/gamepulse-staging"
PASS = (("iam:PassedToService", "ecs-tasks.amazonaws.com"),)


@pytest.mark.parametrize(("need", "allowed"), [
    (Need("ecs:UpdateService", STAGING), True),
    (Need("ecs:UpdateService", STAGING.replace("staging", "production")), False),
    (Need("ecs:DeleteService", STAGING), False),
    (Need("ecs:UpdateService", "*"), False),
    (Need("iam:PassRole", "arn:aws:iam::1:role/task", PASS), True),
    (Need("iam:PassRole", "arn:aws:iam::1:role/task",
          (("iam:PassedToService", "lambda.amazonaws.com"),)), False),
    (Need("iam:PassRole", "arn:aws:iam::1:role/admin", PASS), False),
    (Need("cloudwatch:PutMetricData", "*", (("cloudwatch:namespace", "Other"),)), False),
    (Need("cloudwatch:PutMetricData", "*",
          (("cloudwatch:namespace", "Shipyard/Deployments"),)), True),
])
def test_the_policy_check_allows_only_what_a_statement_grants(need: Need, allowed: bool
                                                              ) -> None:
    assert (denied(POLICY, [need]) == []) is allowed


def test_the_excess_check_finds_unused_actions_resources_and_stars() -> None:
    needs = [Need("ecs:UpdateService", STAGING),
             Need("iam:PassRole", "arn:aws:iam::1:role/task", PASS),
             Need("cloudwatch:PutMetricData", "*",
                  (("cloudwatch:namespace", "Shipyard/Deployments"),))]
    assert excess(POLICY, needs) == [
        "?: ecs:DescribeServices is allowed but no command calls it"]
    loose = [{"Sid": "Loose", "Effect": "Allow", "Action": ["ecs:UpdateService", "ecs:*"],
              "Resource": ["*", "arn:aws:ecs:r:1:service/other/other"]}]
    assert excess(loose, needs) == [
        "Loose: the wildcard action ecs:*",
        "Loose: ecs:UpdateService on * (it has resource-level permissions)",
        "Loose: ecs:* on * (it has resource-level permissions)",
        "Loose: no command uses the resource arn:aws:ecs:r:1:service/other/other"]


def test_the_role_is_read_from_the_template_with_gamepulse_arns() -> None:
    statements = {s["Sid"]: s for s in role_statements("123456789012", "ap-northeast-2")}
    assert statements["Notify"]["Resource"] == (
        "arn:aws:sns:ap-northeast-2:123456789012:gamepulse-deployments")
    assert "arn:aws:iam::123456789012:role/gamepulse-staging-task" in (
        statements["PassTaskRoles"]["Resource"])
