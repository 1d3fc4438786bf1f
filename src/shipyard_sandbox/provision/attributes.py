"""`Fn::GetAtt` of resources made outside the stack being derived, read from their APIs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shipyard_sandbox.provision.aws import Aws


def _repository(aws: Aws, name: str) -> dict[str, Any]:
    return aws("ecr").describe_repositories(repositoryNames=[name])["repositories"][0]


def _load_balancer(aws: Aws, arn: str) -> dict[str, Any]:
    return aws("elbv2").describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]


def _role(aws: Aws, name: str) -> dict[str, Any]:
    return aws("iam").get_role(RoleName=name)["Role"]


# (resource type, attribute) -> its value, from the resource's Ref value.
ATTRIBUTES: dict[tuple[str, str], Callable[[Aws, str], Any]] = {
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
    ("AWS::KMS::Key", "Arn"): lambda aws, ref:
        aws("kms").describe_key(KeyId=ref)["KeyMetadata"]["Arn"],
    ("AWS::KMS::Key", "KeyId"): lambda aws, ref: ref,
    ("AWS::SNS::Topic", "TopicArn"): lambda aws, ref: ref,
    ("AWS::SNS::Topic", "TopicName"): lambda aws, ref: ref.rsplit(":", 1)[1],
    ("AWS::Lambda::Function", "Arn"): lambda aws, ref: aws("lambda").get_function(
        FunctionName=ref)["Configuration"]["FunctionArn"],
    ("AWS::CloudWatch::Alarm", "Arn"): lambda aws, ref: aws("cloudwatch").describe_alarms(
        AlarmNames=[ref])["MetricAlarms"][0]["AlarmArn"],
}
