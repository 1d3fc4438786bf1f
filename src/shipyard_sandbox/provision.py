"""Create a CloudFormation template's resources in a running sandbox, under the same names.

DESIGN 5: "the sandbox creates the same resources, from this template where moto's
CloudFormation supports them". moto's CloudFormation lacks some types and, for others, drops the
properties Shipyard relies on, so each logical resource is created one of three ways:

- **stack**: by moto's CloudFormation, from a derived template holding only such resources, with
  every reference to a parameter or to a resource made elsewhere replaced by its value;
- **api**: through the service's own API, from the template's properties, because moto's
  CloudFormation lacks the type or loses what matters (`API_REASONS` says which, per type);
- **skipped**: its `Condition` is false, or neither way can make it (nor what needs it).

References cross the two ways in both directions (the ECS services need the stack's target
groups; the stack's SSM parameters hold the access points' ids), so the work goes in rounds:
every API resource whose references exist, then one stack of every such stack resource, and
again; GamePulse's template takes two stacks (`gamepulse`, `gamepulse-2`). Running it again
finds everything and reports "exists"; a resource that exists already (the `gamepulse` ECR
repository, pushed to by other tests; the roles the task definitions name) is kept and brought
to the template's settings. Stacks are never updated: after changing the template, restart the
sandbox (or delete the stacks) and provision again.

What moto cannot represent at all, whichever way a resource is made (`MOTO_GAPS`):
- ECS services keep no DeploymentConfiguration (circuit breaker and rollback, minimum/maximum
  percent) and no HealthCheckGracePeriodSeconds; and no task runs (the sandbox's deploy runner,
  not moto, is what starts containers);
- target groups and load balancers keep no attributes; the ALB, its listeners and the EFS mount
  targets are records, with nothing listening behind them;
- CodeDeploy keeps a group's AlarmConfiguration but GetDeploymentGroup answers it empty;
- AWS managed policies exist only when moto's server runs with
  MOTO_IAM_LOAD_MANAGED_POLICIES=true (otherwise the report says which were not attached);
- IAM policies, the GitHub OIDC trust and the confused-deputy conditions are stored but never
  enforced (moto does not evaluate IAM, and accepts any web-identity token);
- CloudWatch alarms see no ALB metrics, so they never fire by themselves;
- ECR lifecycle policies are stored and never run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import ClientError

from shipyard_sandbox.control import SandboxError
from shipyard_sandbox.service import SANDBOX_KEY


class ProvisionError(SandboxError):
    """The template's resources could not be created in the sandbox."""


@dataclass(frozen=True)
class ResourceOutcome:
    """How one logical resource came to exist in the sandbox."""

    logical_id: str
    type: str
    method: str  # "stack", "api" or "skipped"
    state: str  # "created", "exists" or "skipped"
    physical_id: str = ""
    detail: str = ""  # the stack, what moto leaves out, or why it was skipped


@dataclass
class ProvisionReport:
    """Every logical resource of the template (and the network made for it), in creation order."""

    stacks: list[str] = field(default_factory=list)
    resources: list[ResourceOutcome] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def outcome(self, logical_id: str) -> ResourceOutcome:
        return next(r for r in self.resources if r.logical_id == logical_id)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """One line per resource: logical id, type, method, state, physical id, detail."""
        rows = [(r.logical_id, r.type, r.method, r.state, r.physical_id, r.detail)
                for r in self.resources]
        widths = [max((len(row[i]) for row in rows), default=0) for i in range(4)]
        return ["  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True))
                + f"  {row[4]}" + (f"  ({row[5]})" if row[5] else "") for row in rows]


def provision(aws_endpoint: str, region: str, template: Path, parameters: dict[str, str], *,
              stack_name: str | None = None) -> ProvisionReport:
    """Create `template`'s resources in the sandbox at `aws_endpoint`; safe to run again.

    `parameters` are the template's parameters as strings (lists comma-separated); VPC and
    subnet parameters left out are filled with a network made for the purpose. Stacks are
    named after the template (`gamepulse.yaml` -> `gamepulse`, `gamepulse-2`, ...).

        provision("http://127.0.0.1:5000", "ap-northeast-2", Path("infra/gamepulse.yaml"),
                  {"GitHubRepository": "octo/gamepulse"})
    """
    body = load_template(template)
    name = stack_name or re.sub(r"[^A-Za-z0-9-]+", "-", template.stem).strip("-") or "sandbox"
    return _Provisioner(_Aws(aws_endpoint, region), body, name).run(parameters)


# --- the template ----------------------------------------------------------------------------


class _TemplateLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (`!Ref`, `!GetAtt A.B`, ...) as their long forms;
    dates stay strings, as CloudFormation reads them."""


_TemplateLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_TemplateLoader.add_multi_constructor("!", _short_form)


def load_template(path: Path) -> dict[str, Any]:
    """A YAML or JSON CloudFormation template as plain data, intrinsics in their long form."""
    try:
        body = yaml.load(path.read_text(), Loader=_TemplateLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise ProvisionError(f"cannot read the template {path}: {exc}") from exc
    if not isinstance(body, dict) or not isinstance(body.get("Resources"), dict):
        raise ProvisionError(f"{path} is not a CloudFormation template (no Resources)")
    return body


# --- intrinsic functions -----------------------------------------------------------------------

NO_VALUE = object()  # AWS::NoValue: the key or list item disappears
_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_SUB_OPEN = re.compile(r"\$\{(?!!)[^}]+\}")


def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and (
        "Ref" in value or next(iter(value)).startswith("Fn::"))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    raise ProvisionError(f"cannot use {value!r} as text in the template")


def references(node: Any, condition: Callable[[str], bool]) -> set[str]:
    """Names `node` refers to (Ref, Fn::GetAtt, Fn::Sub), following only the taken Fn::If
    branches."""
    found: set[str] = set()

    def walk(item: Any) -> None:
        if isinstance(item, list):
            for element in item:
                walk(element)
        if not isinstance(item, dict):
            return
        for key, value in item.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".", 1)[0])
            elif key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else value
                found.update(name.split(".", 1)[0] for name in _SUB_VARIABLE.findall(text)
                             if not name.startswith("!") and name not in variables)
                walk(variables)
            elif key == "Fn::If":
                walk(value[1] if condition(value[0]) else value[2])
            else:
                walk(value)

    walk(node)
    return found


class _Resolver:
    """Evaluates intrinsic functions against known values.

    References to the `local` resources (those of the stack being derived) stay intrinsic, for
    moto's CloudFormation to resolve; everything else must be known, or it is an error.
    """

    def __init__(self, template: dict[str, Any], refs: dict[str, Any],
                 attribute: Callable[[str, str], Any]) -> None:
        self.refs = refs
        self.attribute = attribute
        self._definitions = template.get("Conditions", {})
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self._definitions:
                raise ProvisionError(f"condition {name} is not defined in the template")
            self._conditions[name] = self._truth(self._definitions[name])
        return self._conditions[name]

    def _truth(self, node: Any) -> bool:
        (function, argument), = node.items()
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::Equals":
            left, right = (self.value(item) for item in argument)
            return (_text(left) == _text(right) if not isinstance(left, list)
                    else left == right)
        if function == "Fn::Not":
            return not self._truth(argument[0])
        if function == "Fn::And":
            return all(self._truth(item) for item in argument)
        if function == "Fn::Or":
            return any(self._truth(item) for item in argument)
        raise ProvisionError(f"{function} is not a condition function")

    def value(self, node: Any, local: frozenset[str] = frozenset()) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(item, local) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if _is_intrinsic(node):
            (function, argument), = node.items()
            handler = _FUNCTIONS.get(function)
            if handler is None:
                raise ProvisionError(f"{function} is not supported by the sandbox provisioner")
            return handler(self, argument, local)
        resolved = {key: self.value(item, local) for key, item in node.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _ref(self, name: str, local: frozenset[str]) -> Any:
        if name in local:
            return {"Ref": name}
        if name == "AWS::NoValue":
            return NO_VALUE
        if name not in self.refs:
            raise ProvisionError(f"Ref {name}: not a parameter or a resource created so far")
        return self.refs[name]

    def _get_att(self, argument: Any, local: frozenset[str]) -> Any:
        name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        if name in local:
            return {"Fn::GetAtt": [name, attribute]}
        return self.attribute(name, attribute)

    def _sub(self, argument: Any, local: frozenset[str]) -> Any:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {key: self.value(item, local) for key, item in variables.items()}
        kept: dict[str, Any] = {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return match.group(0)
            if name in values:
                if _is_intrinsic(values[name]):
                    kept[name] = values[name]
                    return match.group(0)
                return _text(values[name])
            if name.split(".", 1)[0] in local:
                return match.group(0)
            if "." in name:
                return _text(self._get_att(name, local))
            return _text(self._ref(name, local))

        result = _SUB_VARIABLE.sub(replace, text)
        if _SUB_OPEN.search(result):  # moto's CloudFormation finishes it
            return {"Fn::Sub": [result, kept] if kept else result}
        return result.replace("${!", "${")

    def _join(self, argument: Any, local: frozenset[str]) -> Any:
        separator, items = argument[0], self.value(argument[1], local)
        if isinstance(items, list) and not any(_is_intrinsic(item) for item in items):
            return separator.join(_text(item) for item in items)
        return {"Fn::Join": [separator, items]}

    def _select(self, argument: Any, local: frozenset[str]) -> Any:
        index, items = self.value(argument[0], local), self.value(argument[1], local)
        if isinstance(items, list) and not _is_intrinsic(index):
            return items[int(index)]
        return {"Fn::Select": [index, items]}

    def _split(self, argument: Any, local: frozenset[str]) -> Any:
        text = self.value(argument[1], local)
        return text.split(argument[0]) if isinstance(text, str) else {
            "Fn::Split": [argument[0], text]}

    def _if(self, argument: Any, local: frozenset[str]) -> Any:
        name, when_true, when_false = argument
        return self.value(when_true if self.condition(name) else when_false, local)

    def _get_azs(self, argument: Any, local: frozenset[str]) -> Any:
        region = self.value(argument, local) or self.refs["AWS::Region"]
        return [f"{region}{zone}" for zone in "abc"]


_FUNCTIONS: dict[str, Callable[[_Resolver, Any, frozenset[str]], Any]] = {
    "Ref": _Resolver._ref, "Fn::GetAtt": _Resolver._get_att, "Fn::Sub": _Resolver._sub,
    "Fn::Join": _Resolver._join, "Fn::Select": _Resolver._select,
    "Fn::Split": _Resolver._split, "Fn::If": _Resolver._if, "Fn::GetAZs": _Resolver._get_azs,
}


# --- AWS, as the sandbox serves it -------------------------------------------------------------


class _Aws:
    """boto3 clients on the sandbox's endpoint, with its dummy credentials."""

    def __init__(self, endpoint: str, region: str) -> None:
        self.endpoint = endpoint
        self.region = region
        self._session = boto3.session.Session(aws_access_key_id=SANDBOX_KEY,
                                              aws_secret_access_key=SANDBOX_KEY,
                                              region_name=region)
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self.endpoint)
        return self._clients[service]

    @cached_property
    def account_id(self) -> str:
        return self("sts").get_caller_identity()["Account"]

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        return "aws-us-gov" if self.region.startswith("us-gov-") else "aws"


@cache
def _moto_cloudformation_types() -> frozenset[str]:
    """The resource types moto's CloudFormation implements (`create_from_cloudformation_json`)."""
    from moto.cloudformation.parsing import get_model_map

    return frozenset(get_model_map())


def _error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


# API shapes are CloudFormation's in camelCase, with these exceptions; the values of `_DATA_MAPS`
# are user data (log driver options, labels) and keep their keys as written.
_API_NAMES = {"ECSServices": "ecsServices", "EFSVolumeConfiguration": "efsVolumeConfiguration",
              "IAM": "iam", "ClusterSettings": "settings"}
_DATA_MAPS = {"Options", "DockerLabels", "DriverOpts", "Labels"}


def _camel(value: Any) -> Any:
    if isinstance(value, list):
        return [_camel(item) for item in value]
    if isinstance(value, dict):
        return {_API_NAMES.get(key, key[:1].lower() + key[1:]):
                (item if key in _DATA_MAPS else _camel(item)) for key, item in value.items()}
    return value


# --- resources made through their own API --------------------------------------------------------
# Each creator takes the resource's resolved properties and returns (Ref value, state, note),
# finding the resource first so that a second run reports "exists".

Created = tuple[str, str, str]


def _ecr_repository(aws: _Aws, token: str, props: dict[str, Any]) -> Created:
    ecr, name = aws("ecr"), props.get("RepositoryName", token.lower())
    mutability = props.get("ImageTagMutability", "MUTABLE")
    filters = [{"filterType": f["ImageTagMutabilityExclusionFilterType"],
                "filter": f["ImageTagMutabilityExclusionFilterValue"]}
               for f in props.get("ImageTagMutabilityExclusionFilters", [])]
    scanning = {"scanOnPush": bool(props.get("ImageScanningConfiguration", {}).get("ScanOnPush"))}
    encryption = _camel(props.get("EncryptionConfiguration", {"EncryptionType": "AES256"}))
    try:
        found = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
        state = "exists"
    except ClientError as exc:
        if _error_code(exc) != "RepositoryNotFoundException":
            raise
        found, state = None, "created"
        ecr.create_repository(repositoryName=name, imageTagMutability=mutability,
                              imageScanningConfiguration=scanning,
                              encryptionConfiguration=encryption,
                              **({"imageTagMutabilityExclusionFilters": filters} if filters
                                 else {}),
                              tags=props.get("Tags", []))
    notes = []
    if found is not None:  # kept, and brought to the template's settings
        ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability=mutability,
                                     **({"imageTagMutabilityExclusionFilters": filters}
                                        if filters else {}))
        ecr.put_image_scanning_configuration(repositoryName=name,
                                             imageScanningConfiguration=scanning)
        if found.get("encryptionConfiguration", {}).get("encryptionType") != encryption.get(
                "encryptionType"):
            notes.append("its encryption differs from the template's and cannot change")
    policy = props.get("LifecyclePolicy", {}).get("LifecyclePolicyText")
    if policy:
        ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=policy)
    if props.get("RepositoryPolicyText"):
        ecr.set_repository_policy(repositoryName=name,
                                  policyText=json.dumps(props["RepositoryPolicyText"]))
    return name, state, "; ".join(notes)


def _ecs_cluster(aws: _Aws, token: str, props: dict[str, Any]) -> Created:
    ecs, name = aws("ecs"), props.get("ClusterName", token)
    found = ecs.describe_clusters(clusters=[name])["clusters"]
    if found and found[0]["status"] == "ACTIVE":
        return name, "exists", ""
    ecs.create_cluster(**_camel(props))
    return name, "created", ""


def _ecs_task_definition(aws: _Aws, token: str, props: dict[str, Any]) -> Created:
    ecs, family = aws("ecs"), props.get("Family", token)
    try:  # Shipyard's deploys register later revisions; any one means the bootstrap is done
        arn = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        return arn["taskDefinitionArn"], "exists", ""
    except ClientError as exc:
        if _error_code(exc) not in ("ClientException", "InvalidParameterException"):
            raise
    registered = ecs.register_task_definition(**_camel(props))["taskDefinition"]
    return registered["taskDefinitionArn"], "created", ""


def _ecs_service(aws: _Aws, token: str, props: dict[str, Any]) -> Created:
    ecs, name = aws("ecs"), props.get("ServiceName", token)
    cluster = props.get("Cluster", "default")
    found = ecs.describe_services(cluster=cluster, services=[name])["services"]
    if found and found[0]["status"] == "ACTIVE":
        return found[0]["serviceArn"], "exists", ""
    params = _camel(props)
    for key in ("desiredCount", "healthCheckGracePeriodSeconds"):
        if key in params:
            params[key] = int(params[key])
    for balancer in params.get("loadBalancers", []):
        balancer["containerPort"] = int(balancer["containerPort"])
    service = ecs.create_service(**params)["service"]
    return service["serviceArn"], "created", ""


def _efs_access_point(aws: _Aws, token: str, props: dict[str, Any]) -> Created:
    efs, file_system = aws("efs"), props["FileSystemId"]
    for point in efs.describe_access_points(FileSystemId=file_system)["AccessPoints"]:
        if point.get("ClientToken") == token:
            return point["AccessPointId"], "exists", ""
    params: dict[str, Any] = {"ClientToken": token, "FileSystemId": file_system,
                              "Tags": props.get("AccessPointTags", [])}
    if "PosixUser" in props:  # numbers in the API, strings in CloudFormation
        user = props["PosixUser"]
        params["PosixUser"] = {"Uid": int(user["Uid"]), "Gid": int(user["Gid"]),
                               **({"SecondaryGids": [int(g) for g in user["SecondaryGids"]]}
                                  if "SecondaryGids" in user else {})}
    if "RootDirectory" in props:
        root = dict(props["RootDirectory"])
        if "CreationInfo" in root:
            info = root["CreationInfo"]
            root["CreationInfo"] = {"OwnerUid": int(info["OwnerUid"]),
                                    "OwnerGid": int(info["OwnerGid"]),
                                    "Permissions": str(info["Permissions"])}
        params["RootDirectory"] = root
    return efs.create_access_point(**params)["AccessPointId"], "created", ""


def _secret(aws: _Aws, token: str, props: dict[str, Any]) -> Created:
    secrets, name = aws("secretsmanager"), props.get("Name", token)
    try:
        return secrets.describe_secret(SecretId=name)["ARN"], "exists", ""
    except ClientError as exc:
        if _error_code(exc) != "ResourceNotFoundException":
            raise
    value = props.get("SecretString")
    generate = props.get("GenerateSecretString")
    if generate is not None:
        options = {key: generate[key] for key in (
            "PasswordLength", "ExcludeCharacters", "ExcludeNumbers", "ExcludePunctuation",
            "ExcludeUppercase", "ExcludeLowercase", "IncludeSpace", "RequireEachIncludedType")
            if key in generate}
        password = secrets.get_random_password(**options)["RandomPassword"]
        if "SecretStringTemplate" in generate:
            document = json.loads(generate["SecretStringTemplate"])
            document[generate["GenerateStringKey"]] = password
            value = json.dumps(document)
        else:
            value = password
    params = {"Name": name, "SecretString": value or "",
              **{key: props[key] for key in ("Description", "KmsKeyId", "Tags") if key in props}}
    return secrets.create_secret(**params)["ARN"], "created", ""


def _oidc_provider(aws: _Aws, token: str, props: dict[str, Any]) -> Created:
    iam, url = aws("iam"), props["Url"]
    arn = f"arn:{aws.partition}:iam::{aws.account_id}:oidc-provider/{url.split('://', 1)[-1]}"
    try:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        return arn, "exists", ""
    except ClientError as exc:
        if _error_code(exc) != "NoSuchEntity":
            raise
    created = iam.create_open_id_connect_provider(
        Url=url, ClientIDList=props.get("ClientIdList", []),
        ThumbprintList=props.get("ThumbprintList", []), Tags=props.get("Tags", []))
    return created["OpenIDConnectProviderArn"], "created", ""


def _alarm(aws: _Aws, token: str, props: dict[str, Any]) -> Created:
    cloudwatch, name = aws("cloudwatch"), props.get("AlarmName", token)
    if cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]:
        return name, "exists", ""
    params = {key: value for key, value in props.items()}  # the API's names are CloudFormation's
    params["AlarmName"] = name
    for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if key in params:
            params[key] = int(params[key])
    if "Threshold" in params:
        params["Threshold"] = float(params["Threshold"])
    cloudwatch.put_metric_alarm(**params)
    return name, "created", ""


def _codedeploy_application(aws: _Aws, token: str, props: dict[str, Any]) -> Created:
    codedeploy, name = aws("codedeploy"), props.get("ApplicationName", token)
    try:
        codedeploy.get_application(applicationName=name)
        return name, "exists", ""
    except ClientError as exc:
        if _error_code(exc) != "ApplicationDoesNotExistException":
            raise
    codedeploy.create_application(**_camel(props))
    return name, "created", ""


def _codedeploy_group(aws: _Aws, token: str, props: dict[str, Any]) -> Created:
    codedeploy, name = aws("codedeploy"), props.get("DeploymentGroupName", token)
    application = props["ApplicationName"]
    try:
        codedeploy.get_deployment_group(applicationName=application, deploymentGroupName=name)
        return name, "exists", ""
    except ClientError as exc:
        if _error_code(exc) != "DeploymentGroupDoesNotExistException":
            raise
    params = _camel({**props, "DeploymentGroupName": name})
    codedeploy.create_deployment_group(**params)
    return name, "created", ""


def _iam_role(aws: _Aws, token: str, props: dict[str, Any]) -> Created:
    """Found (roles the task definitions name may exist already: other tests make them) or
    created, then given the template's trust, inline policies and managed policies."""
    iam, name = aws("iam"), props.get("RoleName", token[:64])
    trust = json.dumps(props["AssumeRolePolicyDocument"])
    try:
        iam.get_role(RoleName=name)
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
        state = "exists"
    except ClientError as exc:
        if _error_code(exc) != "NoSuchEntity":
            raise
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust,
                        **{key: int(props[key]) if key == "MaxSessionDuration" else props[key]
                           for key in ("Path", "Description", "MaxSessionDuration", "Tags",
                                       "PermissionsBoundary") if key in props})
        state = "created"
    for policy in props.get("Policies", []):  # putting a policy again replaces it
        iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"],
                            PolicyDocument=json.dumps(policy["PolicyDocument"]))
    unknown = []
    for arn in props.get("ManagedPolicyArns", []):
        try:  # attaching twice is a no-op in IAM
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        except ClientError as exc:
            if _error_code(exc) != "NoSuchEntity" or ":iam::aws:policy/" not in arn:
                raise
            unknown.append(arn.rsplit("/", 1)[-1])
    # moto knows AWS's own policies only when its server runs with
    # MOTO_IAM_LOAD_MANAGED_POLICIES=true.
    note = (f"{', '.join(unknown)} not attached: this moto server has no AWS managed policies "
            "(MOTO_IAM_LOAD_MANAGED_POLICIES=true)") if unknown else ""
    return name, state, note


API_CREATORS: dict[str, Callable[[_Aws, str, dict[str, Any]], Created]] = {
    "AWS::ECR::Repository": _ecr_repository,
    "AWS::ECS::Cluster": _ecs_cluster,
    "AWS::ECS::TaskDefinition": _ecs_task_definition,
    "AWS::ECS::Service": _ecs_service,
    "AWS::EFS::AccessPoint": _efs_access_point,
    "AWS::IAM::Role": _iam_role,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::IAM::OIDCProvider": _oidc_provider,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CodeDeploy::Application": _codedeploy_application,
    "AWS::CodeDeploy::DeploymentGroup": _codedeploy_group,
}

# Why each of those goes through its API (moto 5.2's CloudFormation, read in its models).
API_REASONS = {
    "AWS::ECR::Repository": "moto's CloudFormation keeps scanning and encryption in "
    "CloudFormation's casing and ignores LifecyclePolicy; the repository may exist already",
    "AWS::ECS::Cluster": "moto's CloudFormation ignores ClusterSettings (Container Insights)",
    "AWS::ECS::TaskDefinition": "moto's CloudFormation keeps only family, containers, volumes "
    "and memory",
    "AWS::ECS::Service": "moto's CloudFormation ignores LoadBalancers, DeploymentController, "
    "NetworkConfiguration and LaunchType",
    "AWS::EFS::AccessPoint": "moto's CloudFormation access point has no physical id to Ref",
    "AWS::IAM::Role": "moto's CloudFormation stores inline policies as Python text, not JSON, "
    "and ignores ManagedPolicyArns",
    "AWS::SecretsManager::Secret": "not in moto's CloudFormation",
    "AWS::IAM::OIDCProvider": "not in moto's CloudFormation",
    "AWS::CloudWatch::Alarm": "not in moto's CloudFormation",
    "AWS::CodeDeploy::Application": "not in moto's CloudFormation",
    "AWS::CodeDeploy::DeploymentGroup": "not in moto's CloudFormation",
}

# What moto leaves out of a resource whichever way it is made.
MOTO_GAPS = {
    "AWS::ECS::Service": "moto keeps no DeploymentConfiguration (circuit breaker) and no "
    "HealthCheckGracePeriodSeconds",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "moto keeps no TargetGroupAttributes",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "moto keeps no LoadBalancerAttributes",
    "AWS::CodeDeploy::DeploymentGroup": "moto keeps AlarmConfiguration but GetDeploymentGroup "
    "answers it empty",
}


# --- Fn::GetAtt of resources made outside the stack being derived ------------------------------


def _repository(aws: _Aws, name: str) -> dict[str, Any]:
    return aws("ecr").describe_repositories(repositoryNames=[name])["repositories"][0]


def _load_balancer(aws: _Aws, arn: str) -> dict[str, Any]:
    return aws("elbv2").describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]


def _role(aws: _Aws, name: str) -> dict[str, Any]:
    return aws("iam").get_role(RoleName=name)["Role"]


ATTRIBUTES: dict[tuple[str, str], Callable[[_Aws, str], Any]] = {
    ("AWS::ECR::Repository", "Arn"): lambda aws, ref: _repository(aws, ref)["repositoryArn"],
    ("AWS::ECR::Repository", "RepositoryUri"):
        lambda aws, ref: _repository(aws, ref)["repositoryUri"],
    ("AWS::ECS::Cluster", "Arn"): lambda aws, ref:
        aws("ecs").describe_clusters(clusters=[ref])["clusters"][0]["clusterArn"],
    ("AWS::ECS::Service", "Name"): lambda aws, ref: ref.rsplit("/", 1)[-1],
    ("AWS::ECS::Service", "ServiceArn"): lambda aws, ref: ref,
    ("AWS::ECS::TaskDefinition", "TaskDefinitionArn"): lambda aws, ref: ref,
    ("AWS::Logs::LogGroup", "Arn"): lambda aws, ref:
        f"arn:{aws.partition}:logs:{aws.region}:{aws.account_id}:log-group:{ref}:*",
    ("AWS::IAM::Role", "Arn"): lambda aws, ref: _role(aws, ref)["Arn"],
    ("AWS::IAM::Role", "RoleId"): lambda aws, ref: _role(aws, ref)["RoleId"],
    ("AWS::IAM::OIDCProvider", "Arn"): lambda aws, ref: ref,
    ("AWS::EC2::SecurityGroup", "GroupId"): lambda aws, ref: ref,
    ("AWS::EC2::VPC", "VpcId"): lambda aws, ref: ref,
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "DNSName"):
        lambda aws, ref: _load_balancer(aws, ref)["DNSName"],
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancerName"):
        lambda aws, ref: _load_balancer(aws, ref)["LoadBalancerName"],
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancerFullName"):
        lambda aws, ref: ref.split(":loadbalancer/", 1)[1],
    ("AWS::ElasticLoadBalancingV2::TargetGroup", "TargetGroupFullName"):
        lambda aws, ref: ref.rsplit(":", 1)[1],
    ("AWS::ElasticLoadBalancingV2::TargetGroup", "TargetGroupName"):
        lambda aws, ref: ref.rsplit(":", 1)[1].split("/")[1],
    ("AWS::ElasticLoadBalancingV2::TargetGroup", "TargetGroupArn"): lambda aws, ref: ref,
    ("AWS::ElasticLoadBalancingV2::Listener", "ListenerArn"): lambda aws, ref: ref,
    ("AWS::EFS::FileSystem", "FileSystemId"): lambda aws, ref: ref,
    ("AWS::EFS::FileSystem", "Arn"): lambda aws, ref: aws("efs").describe_file_systems(
        FileSystemId=ref)["FileSystems"][0]["FileSystemArn"],
    ("AWS::EFS::AccessPoint", "AccessPointId"): lambda aws, ref: ref,
    ("AWS::EFS::AccessPoint", "Arn"): lambda aws, ref: aws("efs").describe_access_points(
        AccessPointId=ref)["AccessPoints"][0]["AccessPointArn"],
    ("AWS::SecretsManager::Secret", "Id"): lambda aws, ref: ref,
    ("AWS::SNS::Topic", "TopicArn"): lambda aws, ref: ref,
    ("AWS::SNS::Topic", "TopicName"): lambda aws, ref: ref.rsplit(":", 1)[1],
    ("AWS::CloudWatch::Alarm", "Arn"): lambda aws, ref: aws("cloudwatch").describe_alarms(
        AlarmNames=[ref])["MetricAlarms"][0]["AlarmArn"],
}


# --- the rounds --------------------------------------------------------------------------------

SANDBOX_CIDR = "10.42.0.0/16"
_NETWORK_TYPES = ("AWS::EC2::VPC::Id", "AWS::EC2::Subnet::Id", "List<AWS::EC2::Subnet::Id>")


class _Provisioner:
    def __init__(self, aws: _Aws, template: dict[str, Any], stack_name: str) -> None:
        self.aws = aws
        self.template = template
        self.resources: dict[str, dict[str, Any]] = template["Resources"]
        self.stack_name = stack_name
        self.report = ProvisionReport()
        self.refs: dict[str, Any] = {}
        self._attributes: dict[tuple[str, str], Any] = {}
        self.resolver = _Resolver(template, self.refs, self._attribute)
        self.method: dict[str, str] = {}  # logical id -> "stack" or "api"
        self.depends: dict[str, set[str]] = {}  # logical id -> the resources it refers to

    def run(self, given: dict[str, str]) -> ProvisionReport:
        self.refs.update(self._parameters(given))
        self.refs.update({"AWS::Region": self.aws.region, "AWS::AccountId": self.aws.account_id,
                          "AWS::Partition": self.aws.partition, "AWS::StackName": self.stack_name,
                          "AWS::URLSuffix": "amazonaws.com"})
        pending = self._plan()
        while pending:
            made_by_api = self._api_round(pending)
            batch = self._stack_batch(pending)
            if batch:
                self._stack(batch)
                pending = [lid for lid in pending if lid not in batch]
            if not (made_by_api or batch):
                raise ProvisionError(f"circular references between {', '.join(pending)}")
        self._outputs()
        return self.report

    # --- parameters and the network they may need ---

    def _parameters(self, given: dict[str, str]) -> dict[str, Any]:
        declared: dict[str, dict[str, Any]] = self.template.get("Parameters", {})
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise ProvisionError(f"parameter {unknown[0]} is not declared by the template; it "
                                 f"declares {', '.join(declared) or 'none'}")
        raw = {name: given.get(name, spec.get("Default")) for name, spec in declared.items()}
        network = [name for name, spec in declared.items() if spec.get("Type") in _NETWORK_TYPES]
        for name, spec in declared.items():  # checked before anything is made
            if raw[name] is None and name not in network:
                raise ProvisionError(f"parameter {name} has no default; pass {name}=VALUE "
                                     f"({spec.get('Description', spec.get('Type', ''))})")
        missing = [name for name in network if raw[name] is None]
        if missing and len(missing) < len(network):
            raise ProvisionError(f"pass {', '.join(missing)} too, or none of {', '.join(network)} "
                                 "(the sandbox then makes its own network)")
        values = {name: _typed(name, spec, raw[name]) for name, spec in declared.items()
                  if raw[name] is not None}
        if missing:
            vpc, subnets = self._network()
            for name in missing:
                kind = declared[name]["Type"]
                values[name] = vpc if kind == "AWS::EC2::VPC::Id" else (
                    subnets[0] if kind == "AWS::EC2::Subnet::Id" else subnets)
        return values

    def _network(self) -> tuple[str, list[str]]:
        """A VPC and two subnets in two zones (an ALB needs two), found by their Name tags."""
        ec2, name = self.aws("ec2"), f"{self.stack_name}-sandbox"

        def tagged(kind: str, tag: str) -> list[dict[str, Any]]:
            return [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": tag}]}]

        found = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [name]}])["Vpcs"]
        if found:
            vpc, state = found[0]["VpcId"], "exists"
        else:
            vpc, state = ec2.create_vpc(CidrBlock=SANDBOX_CIDR, TagSpecifications=tagged(
                "vpc", name))["Vpc"]["VpcId"], "created"
        self._record("SandboxVpc", "AWS::EC2::VPC", "api", state, vpc, "made for the template's "
                     "VPC parameter")
        subnets = []
        for index, zone in enumerate("ab"):
            tag = f"{name}-{zone}"
            found = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                  {"Name": "tag:Name", "Values": [tag]}])
            if found["Subnets"]:
                subnet, state = found["Subnets"][0]["SubnetId"], "exists"
            else:
                subnet = ec2.create_subnet(
                    VpcId=vpc, CidrBlock=f"10.42.{index}.0/24",
                    AvailabilityZone=f"{self.aws.region}{zone}",
                    TagSpecifications=tagged("subnet", tag))["Subnet"]["SubnetId"]
                state = "created"
            self._record(f"SandboxSubnet{zone.upper()}", "AWS::EC2::Subnet", "api", state, subnet,
                         "made for the template's subnet parameters")
            subnets.append(subnet)
        return vpc, subnets

    # --- planning ---

    def _plan(self) -> list[str]:
        """The logical ids to create, in template order; records the skipped ones."""
        absent: set[str] = set()
        for lid, resource in self.resources.items():
            condition = resource.get("Condition")
            if condition and not self.resolver.condition(condition):
                absent.add(lid)
                self._record(lid, resource["Type"], "skipped", "skipped", "",
                             f"condition {condition} is false")
        unavailable: dict[str, str] = {}
        for lid, resource in self.resources.items():
            if lid in absent:
                continue
            kind = resource["Type"]
            self.method[lid] = "api" if kind in API_CREATORS else (
                "stack" if kind in _moto_cloudformation_types() else "skipped")
            if self.method[lid] == "skipped":
                unavailable[lid] = (f"moto's CloudFormation has no {kind} and the provisioner "
                                    "no API for it")
            named = references(resource.get("Properties", {}), self.resolver.condition)
            named.update(_as_list(resource.get("DependsOn")))
            self.depends[lid] = {name for name in named if name in self.resources} - absent
        changed = True
        while changed:  # whatever needs an unavailable resource is unavailable too
            changed = False
            for lid, needs in self.depends.items():
                missing = sorted(needs & set(unavailable))
                if lid not in unavailable and missing:
                    unavailable[lid] = f"needs {missing[0]}, which the sandbox cannot create"
                    changed = True
        for lid, reason in unavailable.items():
            self._record(lid, self.resources[lid]["Type"], "skipped", "skipped", "", reason)
        return [lid for lid in self.method if lid not in unavailable]

    def _done(self, lid: str) -> bool:
        return lid in self.refs

    # --- the API round ---

    def _api_round(self, pending: list[str]) -> bool:
        made = False
        progress = True
        while progress:
            progress = False
            for lid in list(pending):
                if self.method[lid] == "api" and all(map(self._done, self.depends[lid])):
                    self._create_by_api(lid)
                    pending.remove(lid)
                    made = progress = True
        return made

    def _create_by_api(self, lid: str) -> None:
        kind = self.resources[lid]["Type"]
        props = self.resolver.value(self.resources[lid].get("Properties", {}))
        try:
            ref, state, note = API_CREATORS[kind](self.aws, f"{self.stack_name}-{lid}", props)
        except ClientError as exc:
            raise ProvisionError(f"{lid} ({kind}): {exc}") from exc
        self.refs[lid] = ref
        detail = "; ".join(filter(None, (API_REASONS[kind], note, MOTO_GAPS.get(kind))))
        self._record(lid, kind, "api", state, ref, detail)

    # --- the stack round ---

    def _stack_batch(self, pending: list[str]) -> list[str]:
        """Every stack resource whose references exist or are in the batch itself."""
        batch: list[str] = []
        grown = True
        while grown:
            grown = False
            for lid in pending:
                if (self.method[lid] == "stack" and lid not in batch
                        and all(self._done(d) or d in batch for d in self.depends[lid])):
                    batch.append(lid)
                    grown = True
        return [lid for lid in pending if lid in batch]  # template order

    def _stack(self, batch: list[str]) -> None:
        name = self.stack_name if not self.report.stacks else (
            f"{self.stack_name}-{len(self.report.stacks) + 1}")
        local = frozenset(batch)
        body = {"AWSTemplateFormatVersion": "2010-09-09",
                "Description": f"Sandbox stack {len(self.report.stacks) + 1} of "
                f"{self.stack_name}: the resources moto's CloudFormation makes faithfully",
                "Resources": {lid: self._derived(lid, local) for lid in batch}}
        cloudformation = self.aws("cloudformation")
        status = self._stack_status(name)
        state = "exists"
        if status is None:
            try:
                cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(body))
            except ClientError as exc:
                raise ProvisionError(f"moto's CloudFormation refused stack {name}: {exc}"
                                     ) from exc
            status, state = self._stack_status(name), "created"
        if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            raise ProvisionError(f"stack {name} is {status}; delete it (aws cloudformation "
                                 f"delete-stack --stack-name {name}) or restart the sandbox")
        physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in
                    cloudformation.describe_stack_resources(StackName=name)["StackResources"]}
        self.report.stacks.append(name)
        for lid in batch:
            if lid not in physical:
                raise ProvisionError(f"stack {name} has no {lid}: the template changed since it "
                                     "was provisioned; restart the sandbox")
            self.refs[lid] = physical[lid]
            kind = self.resources[lid]["Type"]
            detail = "; ".join(filter(None, (f"stack {name}", MOTO_GAPS.get(kind))))
            self._record(lid, kind, "stack", state, physical[lid], detail)

    def _derived(self, lid: str, local: frozenset[str]) -> dict[str, Any]:
        resource = self.resources[lid]
        derived = {"Type": resource["Type"],
                   "Properties": self.resolver.value(resource.get("Properties", {}), local)}
        depends = [name for name in _as_list(resource.get("DependsOn")) if name in local]
        if depends:
            derived["DependsOn"] = depends
        return derived

    def _stack_status(self, name: str) -> str | None:
        try:
            stacks = self.aws("cloudformation").describe_stacks(StackName=name)["Stacks"]
        except ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        status = stacks[0]["StackStatus"] if stacks else None
        return None if status == "DELETE_COMPLETE" else status

    # --- attributes, outputs, the report ---

    def _attribute(self, lid: str, attribute: str) -> Any:
        if lid not in self.refs or lid not in self.resources:
            raise ProvisionError(f"Fn::GetAtt {lid}.{attribute}: {lid} was not created")
        key = (lid, attribute)
        if key not in self._attributes:
            kind = self.resources[lid]["Type"]
            getter = ATTRIBUTES.get((kind, attribute))
            if getter is None:
                raise ProvisionError(f"Fn::GetAtt {lid}.{attribute}: the sandbox provisioner "
                                     f"cannot read {attribute} of {kind}")
            self._attributes[key] = getter(self.aws, self.refs[lid])
        return self._attributes[key]

    def _outputs(self) -> None:
        for key, output in self.template.get("Outputs", {}).items():
            condition = output.get("Condition")
            if condition and not self.resolver.condition(condition):
                continue
            try:
                self.report.outputs[key] = self.resolver.value(output["Value"])
            except (ProvisionError, ClientError) as exc:
                self.report.outputs[key] = f"(unavailable: {exc})"

    def _record(self, lid: str, kind: str, method: str, state: str, physical: str,
                detail: str) -> None:
        self.report.resources.append(ResourceOutcome(lid, kind, method, state, physical, detail))


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _typed(name: str, spec: dict[str, Any], raw: Any) -> Any:
    """A parameter's value as CloudFormation passes it on, checked against its constraints."""
    kind, text = spec.get("Type", "String"), _text(raw)
    allowed = spec.get("AllowedValues")
    if allowed is not None and text not in [_text(a) for a in allowed]:
        raise ProvisionError(f"parameter {name}={text} is not one of {allowed}")
    pattern = spec.get("AllowedPattern")
    if pattern and not re.fullmatch(pattern, text):
        raise ProvisionError(f"parameter {name}={text} does not match {pattern}")
    if kind.startswith("List<") or kind == "CommaDelimitedList":
        return [item.strip() for item in text.split(",") if item.strip()]
    if kind == "Number":
        try:
            number = float(text)
        except ValueError:
            raise ProvisionError(f"parameter {name}={text} is not a number") from None
        for bound, fails in (("MinValue", number.__lt__), ("MaxValue", number.__gt__)):
            if bound in spec and fails(float(spec[bound])):
                raise ProvisionError(f"parameter {name}={text} is outside {bound} {spec[bound]}")
        return int(number) if number.is_integer() else number
    return text

