"""GamePulse's CloudFormation template: cfn-lint clean, in step with shipyard.toml, and created
in the sandbox under the same names (`shipyard_sandbox.provision`)."""

from __future__ import annotations

import json
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from shipyard_sandbox import control
from shipyard_sandbox.provision import (
    ProvisionError,
    ProvisionReport,
    Resolver,
    load_template,
    provision,
    references,
)
from shipyard_testing.gamepulse_infra import SandboxAws as Aws

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "GamePulse" / "infra" / "gamepulse.yaml"
CONFIG = ROOT / "GamePulse" / "shipyard.toml"
REPOSITORY = "octo-org/gamepulse"


# --- the template on its own -------------------------------------------------------------------


def lint(path: Path) -> list[Any]:
    """cfn-lint's errors and warnings for `path`, in the regions GamePulse uses."""
    from cfnlint.api import ManualArgs, lint_file

    return lint_file(path, ManualArgs(regions=["ap-northeast-2", "us-east-1"]))


def test_template_is_cfn_lint_clean() -> None:
    matches = lint(TEMPLATE)
    assert not matches, "\n".join(f"{m.rule.id} {m.message} (line {m.linenumber})"
                                  for m in matches)


def test_cfn_lint_check_catches_a_broken_template(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(TEMPLATE.read_text().replace("TargetType: ip", "TargetType: ipx", 1))
    assert [m.rule.id for m in lint(broken)] == ["E3030"]


def _resources(kind: str) -> list[dict[str, Any]]:
    template = load_template(TEMPLATE)
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def _named(kind: str, key: str) -> set[str]:
    return {props[key] for props in _resources(kind)}


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_template_names_what_shipyard_toml_names(environment: str) -> None:
    config = tomllib.loads(CONFIG.read_text())
    settings = config["environments"][environment]
    values = settings["values"]
    assert config["service"]["repository"] in _named("AWS::ECR::Repository", "RepositoryName")
    assert settings["cluster"] in _named("AWS::ECS::Cluster", "ClusterName")
    assert values["log_group"] in _named("AWS::Logs::LogGroup", "LogGroupName")
    assert values["secret_name"] in _named("AWS::SecretsManager::Secret", "Name")
    parameters = _named("AWS::SSM::Parameter", "Name")
    assert values["efs_parameter"] in parameters
    if "efs_access_point_parameter" in values:
        assert values["efs_access_point_parameter"] in parameters
    service = next(p for p in _resources("AWS::ECS::Service")
                   if p["ServiceName"] == settings["service"])
    balancer = service["LoadBalancers"][0]
    assert (balancer["ContainerName"], balancer["ContainerPort"]) == (
        settings["container_name"], settings["container_port"])
    task = next(p for p in _resources("AWS::ECS::TaskDefinition")
                if p["Family"] == f"gamepulse-{environment}")
    assert (task["Cpu"], task["Memory"]) == (values["cpu"], values["memory"])
    assert task["RuntimePlatform"]["CpuArchitecture"] == values["cpu_architecture"]
    assert task["ContainerDefinitions"][0]["Name"] == settings["container_name"]
    expected = {"rolling": "ECS", "blue_green": "CODE_DEPLOY"}[settings["deployment"]]
    assert service["DeploymentController"]["Type"] == expected
    if settings["deployment"] == "blue_green":
        assert settings["codedeploy_application"] in _named("AWS::CodeDeploy::Application",
                                                            "ApplicationName")
        assert settings["codedeploy_group"] in _named("AWS::CodeDeploy::DeploymentGroup",
                                                      "DeploymentGroupName")
        # CodeDeploy's role reaches the hooks through its managed policy's name pattern.
        role = next(p for p in _resources("AWS::IAM::Role")
                    if p["RoleName"] == "gamepulse-codedeploy")
        assert role["ManagedPolicyArns"][0]["Fn::Sub"].endswith(
            ":policy/AWSCodeDeployRoleForECSLimited")
        assert all(fnmatchcase(hook, "CodeDeployHook_*") for hook in settings["hooks"].values())



def test_template_has_the_topic_and_metrics_namespace_shipyard_toml_names() -> None:
    config = tomllib.loads(CONFIG.read_text())
    template = load_template(TEMPLATE)
    assert config["notifications"]["sns_topic"] in _named("AWS::SNS::Topic", "TopicName")
    assert (template["Parameters"]["DeploymentMetricsNamespace"]["Default"]
            == config["metrics"]["namespace"])

# --- the provisioner's evaluation of intrinsic functions ---------------------------------------

RESOLVER_TEMPLATE = {"Conditions": {
    "IsStaging": {"Fn::Equals": [{"Ref": "Env"}, "staging"]},
    "IsProduction": {"Fn::Not": [{"Condition": "IsStaging"}]}}}
KNOWN = {"Env": "staging", "Subnets": ["subnet-1", "subnet-2"], "Count": 2,
         "AWS::Region": "ap-northeast-2", "Made": "made-id"}


@pytest.mark.parametrize(("node", "expected"), [
    ({"Ref": "Env"}, "staging"),  # a parameter
    ({"Ref": "Local"}, {"Ref": "Local"}),  # in the stack being derived: moto resolves it
    ({"Fn::GetAtt": ["Made", "Arn"]}, "Made.Arn"),  # made elsewhere: its attribute, read
    ({"Fn::Sub": "x-${Env}-${AWS::Region}"}, "x-staging-ap-northeast-2"),
    ({"Fn::Sub": "${Local}/${Made}/${Made.Arn}"}, {"Fn::Sub": "${Local}/made-id/Made.Arn"}),
    ({"Fn::Sub": "${!Literal}-${Env}"}, "${Literal}-staging"),  # ${!...} is text
    ({"Fn::Sub": ["${A}-${B}", {"A": {"Ref": "Env"}, "B": {"Ref": "Local"}}]},
     {"Fn::Sub": ["staging-${B}", {"B": {"Ref": "Local"}}]}),  # variables, partly known
    ({"Fn::Select": [1, {"Ref": "Subnets"}]}, "subnet-2"),
    ({"Fn::Join": ["-", [{"Ref": "Env"}, {"Ref": "Count"}]]}, "staging-2"),
    ({"Fn::Join": ["-", [{"Ref": "Local"}]]}, {"Fn::Join": ["-", [{"Ref": "Local"}]]}),
    ({"Fn::If": ["IsStaging", "small", "large"]}, "small"),
    ({"K": {"Fn::If": ["IsProduction", 1, {"Ref": "AWS::NoValue"}]}, "L": [1]}, {"L": [1]}),
])
def test_resolver(node: Any, expected: Any) -> None:
    resolver = Resolver(RESOLVER_TEMPLATE, dict(KNOWN), lambda lid, attr: f"{lid}.{attr}")
    assert resolver.value(node, frozenset({"Local"})) == expected


def test_references_follow_the_taken_branch() -> None:
    resolver = Resolver(RESOLVER_TEMPLATE, dict(KNOWN), lambda lid, attr: "")
    node = {"A": {"Fn::If": ["IsProduction", {"Ref": "Prod"}, {"Ref": "Stage"}]},
            "B": {"Fn::Sub": ["${X}-${Res.Arn}-${!Text}", {"X": {"Fn::GetAtt": "Other.Id"}}]}}
    assert references(node, resolver.condition) == {"Stage", "Res", "Other"}


def test_provision_needs_a_running_sandbox(tmp_path: Path) -> None:
    with pytest.raises(control.SandboxError, match="no sandbox is running"):
        control.provision(tmp_path, TEMPLATE, {"GitHubRepository": REPOSITORY})


# --- created in the sandbox ----------------------------------------------------------------------


def test_account_settings_from_the_metadata(provisioned: ProvisionReport, aws: Aws) -> None:
    outcome = provisioned.outcome("ECR account setting BLOB_MOUNTING")
    assert (outcome.type, outcome.physical_id) == ("AWS::ECR::AccountSetting", "ENABLED")
    assert aws("ecr").get_account_setting(name="BLOB_MOUNTING")["value"] == "ENABLED"


def test_every_resource_is_accounted_for(provisioned: ProvisionReport) -> None:
    template = load_template(TEMPLATE)
    reported = {r.logical_id: r for r in provisioned.resources}
    assert set(template["Resources"]) <= set(reported)
    assert not [r for r in provisioned.resources if r.method == "skipped"]
    # Types moto's CloudFormation makes faithfully go through the stack; the rest say why not.
    assert reported["ProductionListener"].method == "stack"
    assert reported["StagingFileSystem"].method == "stack"
    assert reported["StagingTaskRole"].method == "api"
    assert reported["ProductionService"].method == "api"
    assert "DeploymentController" in reported["ProductionService"].detail
    assert provisioned.stacks[0] == "gamepulse"
    assert provisioned.outputs["ClusterName"] == "gamepulse"
    assert provisioned.outputs["StagingServiceName"] == "gamepulse-staging"


def test_ecr_repository(provisioned: ProvisionReport, aws: Aws) -> None:
    ecr = aws("ecr")
    repo = ecr.describe_repositories(repositoryNames=["gamepulse"])["repositories"][0]
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    # version tags immutable, floating tags (X.Y, X, latest) free to move
    assert repo["imageTagMutability"] == "MUTABLE_WITH_EXCLUSION"
    assert repo["imageTagMutabilityExclusionFilters"] == [
        {"filterType": "WILDCARD", "filter": "*.*.*"}, {"filterType": "WILDCARD", "filter": "*-*"}]
    assert repo["encryptionConfiguration"]["encryptionType"] == "AES256"
    rules = json.loads(ecr.get_lifecycle_policy(repositoryName="gamepulse")
                       ["lifecyclePolicyText"])["rules"]
    # only the rule that cannot touch a multi-arch image's children, a signature or a release
    assert [(r["selection"]["tagStatus"], r["selection"]["tagPatternList"],
             r["selection"]["countType"]) for r in rules] == [
        ("tagged", ["*-pr-*.*"], "sinceImagePushed")]


def test_cluster_and_services(provisioned: ProvisionReport, aws: Aws) -> None:
    ecs = aws("ecs")
    cluster = ecs.describe_clusters(clusters=["gamepulse"], include=["SETTINGS"])["clusters"][0]
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]
    services = {s["serviceName"]: s for s in ecs.describe_services(
        cluster="gamepulse", services=["gamepulse-staging", "gamepulse-production"])["services"]}
    target_groups = {tg["TargetGroupName"]: tg["TargetGroupArn"]
                     for tg in aws("elbv2").describe_target_groups()["TargetGroups"]}
    for name, controller, target_group in (
            ("gamepulse-staging", "ECS", "gamepulse-staging"),
            ("gamepulse-production", "CODE_DEPLOY", "gamepulse-prod-blue")):
        service = services[name]
        assert service["status"] == "ACTIVE"
        assert service["deploymentController"] == {"type": controller}
        assert service["launchType"] == "FARGATE"
        assert service["loadBalancers"] == [{"containerName": "gamepulse", "containerPort": 8080,
                                             "targetGroupArn": target_groups[target_group]}]
        network = service["networkConfiguration"]["awsvpcConfiguration"]
        assert len(network["subnets"]) == 2 and network["securityGroups"]
    for logical_id, cpu, memory in (("StagingTaskDefinition", "512", "1024"),
                                    ("ProductionTaskDefinition", "1024", "2048")):
        # Other tests in this session may have registered the family first (GamePulse's own
        # task-definition templates); then that revision counts as the bootstrap.
        outcome = provisioned.outcome(logical_id)
        task = ecs.describe_task_definition(taskDefinition=outcome.physical_id)["taskDefinition"]
        family = task["family"]
        assert family in ("gamepulse-staging", "gamepulse-production")
        assert (task["cpu"], task["memory"], task["networkMode"]) == (cpu, memory, "awsvpc")
        assert task["requiresCompatibilities"] == ["FARGATE"]
        assert task["runtimePlatform"]["operatingSystemFamily"] == "LINUX"
        assert task["executionRoleArn"].endswith(f":role/{family}-execution")
        container = task["containerDefinitions"][0]
        assert (container["name"], container["portMappings"][0]["containerPort"]) == (
            "gamepulse", 8080)
        if outcome.state == "created":
            assert container["logConfiguration"]["options"]["awslogs-group"] == f"/ecs/{family}"


def test_logs_secrets_and_parameters(provisioned: ProvisionReport, aws: Aws) -> None:
    groups = {g["logGroupName"]: g for g in aws("logs").describe_log_groups(
        logGroupNamePrefix="/ecs/gamepulse-")["logGroups"]}
    assert {name: group.get("retentionInDays") for name, group in groups.items()} == {
        "/ecs/gamepulse-staging": 30, "/ecs/gamepulse-production": 30}
    secrets, efs, ssm = aws("secretsmanager"), aws("efs"), aws("ssm")
    for environment in ("staging", "production"):
        value = json.loads(secrets.get_secret_value(
            SecretId=f"gamepulse/{environment}/app")["SecretString"])
        assert set(value) == {"DATABASE_URL", "API_KEY"} and len(value["API_KEY"]) == 40
        file_system = ssm.get_parameter(
            Name=f"/gamepulse/{environment}/efs-file-system-id")["Parameter"]["Value"]
        described = efs.describe_file_systems(FileSystemId=file_system)["FileSystems"][0]
        assert described["Encrypted"] is True
        assert len(efs.describe_mount_targets(FileSystemId=file_system)["MountTargets"]) == 2
        access_point = ssm.get_parameter(
            Name=f"/gamepulse/{environment}/efs-access-point-id")["Parameter"]["Value"]
        point = efs.describe_access_points(AccessPointId=access_point)["AccessPoints"][0]
        assert point["FileSystemId"] == file_system
        assert point["PosixUser"] == {"Uid": 10001, "Gid": 10001}
        assert point["RootDirectory"]["Path"] == "/gamepulse"


def _inline_statements(iam: Any, role: str) -> list[dict[str, Any]]:
    statements = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        statements += json.loads(document)["Statement"] if isinstance(document, str) else \
            document["Statement"]
    return statements


def test_roles_are_scoped_to_their_environment(provisioned: ProvisionReport, aws: Aws) -> None:
    iam, secrets = aws("iam"), aws("secretsmanager")
    for environment in ("staging", "production"):
        secret = secrets.describe_secret(SecretId=f"gamepulse/{environment}/app")["ARN"]
        statements = _inline_statements(iam, f"gamepulse-{environment}-execution")
        readable = [s["Resource"] for s in statements
                    if s["Action"] == "secretsmanager:GetSecretValue"]
        assert readable == [secret]
        file_system = aws("ssm").get_parameter(
            Name=f"/gamepulse/{environment}/efs-file-system-id")["Parameter"]["Value"]
        mount = next(s for s in _inline_statements(iam, f"gamepulse-{environment}-task")
                     if s["Sid"] == "MountOwnFileSystem")
        assert mount["Resource"].endswith(f":file-system/{file_system}")


def test_github_deploy_role(provisioned: ProvisionReport, aws: Aws) -> None:
    iam = aws("iam")
    role = iam.get_role(RoleName="gamepulse-github-deploy")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    statement = trust["Statement"][0]
    provider = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert statement["Principal"]["Federated"] in [p["Arn"] for p in provider]
    assert statement["Principal"]["Federated"].endswith(
        ":oidc-provider/token.actions.githubusercontent.com")
    subjects = statement["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"]
    assert subjects == [f"repo:{REPOSITORY}:ref:refs/heads/main",
                        f"repo:{REPOSITORY}:ref:refs/heads/develop",
                        f"repo:{REPOSITORY}:ref:refs/tags/v*",
                        f"repo:{REPOSITORY}:environment:staging",
                        f"repo:{REPOSITORY}:environment:production"]
    statements = {s["Sid"]: s for s in _inline_statements(iam, "gamepulse-github-deploy")}
    passed = sorted(r.rsplit("/", 1)[1] for r in statements["PassTaskRoles"]["Resource"])
    assert passed == ["gamepulse-production-execution", "gamepulse-production-task",
                      "gamepulse-staging-execution", "gamepulse-staging-task"]
    assert statements["EcrPushScanCleanup"]["Resource"].endswith(":repository/gamepulse")
    assert statements["BlueGreenDeployments"]["Resource"].endswith(
        ":deploymentgroup:gamepulse/gamepulse-production")
    unscoped = sorted(s["Sid"] for s in statements.values() if s["Resource"] == "*")
    assert unscoped == ["DeploymentMetrics", "EcrLogin", "ListServices", "StatusListeners",
                        "TaskDefinitions"]
    # ListServices has no resource-level permissions: the cluster is its condition
    assert statements["ListServices"]["Condition"]["StringEquals"]["ecs:cluster"].endswith(
        ":cluster/gamepulse")


def test_codedeploy_role_has_its_aws_managed_policy(provisioned: ProvisionReport,
                                                    aws: Aws) -> None:
    attached = aws("iam").list_attached_role_policies(
        RoleName="gamepulse-codedeploy")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [
        "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECSLimited"]
    assert "AWS managed AWSCodeDeployRoleForECSLimited attached" in provisioned.outcome(
        "CodeDeployServiceRole").detail
    assert not [line for line in provisioned.lines() if "not attached" in line]


def test_an_unknown_aws_managed_policy_is_reported(sandbox: dict[str, str], aws: Aws,
                                                   tmp_path: Path) -> None:
    template = tmp_path / "role.yaml"
    template.write_text(
        "Resources:\n"
        "  Role:\n"
        "    Type: AWS::IAM::Role\n"
        "    Properties:\n"
        "      RoleName: t-provision-managed\n"
        "      AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: []}\n"
        "      ManagedPolicyArns:\n"
        "        - arn:aws:iam::aws:policy/AWSCodeDeployRoleForECSLimited\n"
        "        - arn:aws:iam::aws:policy/NotAnAwsPolicy\n")
    report = provision(sandbox["AWS_ENDPOINT_URL"], sandbox["AWS_REGION"], template, {})
    detail = report.outcome("Role").detail
    assert "AWS managed AWSCodeDeployRoleForECSLimited attached" in detail
    assert "NotAnAwsPolicy not attached: unknown to this sandbox's moto" in detail
    attached = aws("iam").list_attached_role_policies(
        RoleName="t-provision-managed")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AWSCodeDeployRoleForECSLimited"]


def test_load_balancer(provisioned: ProvisionReport, aws: Aws) -> None:
    elbv2 = aws("elbv2")
    balancer = elbv2.describe_load_balancers(Names=["gamepulse"])["LoadBalancers"][0]
    groups = {tg["TargetGroupArn"]: tg for tg in elbv2.describe_target_groups(
        LoadBalancerArn=balancer["LoadBalancerArn"])["TargetGroups"]}
    for group in groups.values():
        assert (group["TargetType"], group["Port"], group["HealthCheckPath"]) == (
            "ip", 8080, "/health")
    listeners = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])
    forward = {listener["Port"]: groups[listener["DefaultActions"][0]["TargetGroupArn"]]
               ["TargetGroupName"] for listener in listeners["Listeners"]}
    assert forward == {80: "gamepulse-prod-blue", 8080: "gamepulse-prod-green",
                       8081: "gamepulse-staging"}


def test_codedeploy_topic_and_alarms(provisioned: ProvisionReport, aws: Aws) -> None:
    codedeploy = aws("codedeploy")
    application = codedeploy.get_application(applicationName="gamepulse")["application"]
    assert application["computePlatform"] == "ECS"
    group = codedeploy.get_deployment_group(
        applicationName="gamepulse", deploymentGroupName="gamepulse-production"
    )["deploymentGroupInfo"]
    assert group["deploymentStyle"] == {"deploymentType": "BLUE_GREEN",
                                        "deploymentOption": "WITH_TRAFFIC_CONTROL"}
    assert group["ecsServices"] == [{"serviceName": "gamepulse-production",
                                     "clusterName": "gamepulse"}]
    pair = group["loadBalancerInfo"]["targetGroupPairInfoList"][0]
    assert [tg["name"] for tg in pair["targetGroups"]] == ["gamepulse-prod-blue",
                                                           "gamepulse-prod-green"]
    assert set(group["autoRollbackConfiguration"]["events"]) == {
        "DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"}
    alarms = ["gamepulse-production-blue-5xx", "gamepulse-production-green-5xx"]
    if group["alarmConfiguration"]:  # moto 5.2 keeps it but answers {} (see MOTO_GAPS)
        assert [a["name"] for a in group["alarmConfiguration"]["alarms"]] == alarms
    described = aws("cloudwatch").describe_alarms(AlarmNames=alarms)["MetricAlarms"]
    assert {a["MetricName"] for a in described} == {"HTTPCode_Target_5XX_Count"}
    topics = [t["TopicArn"] for t in aws("sns").list_topics()["Topics"]]
    assert any(t.endswith(":gamepulse-deployments") for t in topics)
    assert all(a["AlarmActions"] == [provisioned.outputs["DeploymentTopicArn"]]
               for a in described)


def test_second_run_finds_everything(provisioned: ProvisionReport,
                                     sandbox: dict[str, str]) -> None:
    again = provision(sandbox["AWS_ENDPOINT_URL"], sandbox["AWS_REGION"], TEMPLATE,
                      {"GitHubRepository": REPOSITORY})
    assert {r.state for r in again.resources} == {"exists"}
    assert again.stacks == provisioned.stacks
    assert again.outputs == provisioned.outputs


def test_parameters_are_checked(sandbox: dict[str, str]) -> None:
    for parameters, message in (
            ({}, "GitHubRepository has no default"),
            ({"GitHubRepository": "no-slash"}, "does not match"),
            ({"GitHubRepository": REPOSITORY, "Nope": "1"}, "Nope is not declared"),
            ({"GitHubRepository": REPOSITORY, "VpcId": "vpc-1"}, "pass SubnetIds too")):
        with pytest.raises(ProvisionError, match=message):
            provision(sandbox["AWS_ENDPOINT_URL"], sandbox["AWS_REGION"], TEMPLATE, parameters)


def test_an_existing_repository_is_kept_and_configured(sandbox: dict[str, str], aws: Aws,
                                                       tmp_path: Path) -> None:
    """Other tests may have made the repository first: provisioning keeps its images."""
    ecr, name = aws("ecr"), "t/provision-existing"
    ecr.create_repository(repositoryName=name)
    template = tmp_path / "repository.yaml"
    template.write_text(
        "Resources:\n"
        "  Repository:\n"
        "    Type: AWS::ECR::Repository\n"
        "    Properties:\n"
        f"      RepositoryName: {name}\n"
        "      ImageScanningConfiguration: {ScanOnPush: true}\n"
        "      ImageTagMutability: IMMUTABLE_WITH_EXCLUSION\n"
        "      ImageTagMutabilityExclusionFilters:\n"
        "        - {ImageTagMutabilityExclusionFilterType: WILDCARD,\n"
        "           ImageTagMutabilityExclusionFilterValue: latest}\n")
    report = provision(sandbox["AWS_ENDPOINT_URL"], sandbox["AWS_REGION"], template, {})
    assert report.outcome("Repository").state == "exists"
    assert report.stacks == []
    repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
