"""Resources made through their service's API rather than moto's CloudFormation.

Each creator takes the resource's token (`<stack>-<logical id>`, its default name) and its
resolved properties, and returns (Ref value, state, note), finding the resource first so that a
second run reports "exists".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shipyard_sandbox.provision.aws import Aws, Created
from shipyard_sandbox.provision.creators import (
    codedeploy,
    ecr,
    ecs,
    efs,
    functions,
    iam,
    kms,
    secrets,
)

API_CREATORS: dict[str, Callable[[Aws, str, dict[str, Any]], Created]] = {
    "AWS::ECR::Repository": ecr.repository,
    "AWS::ECS::Cluster": ecs.cluster,
    "AWS::ECS::TaskDefinition": ecs.task_definition,
    "AWS::ECS::Service": ecs.service,
    "AWS::EFS::AccessPoint": efs.access_point,
    "AWS::IAM::Role": iam.role,
    "AWS::SecretsManager::Secret": secrets.secret,
    "AWS::IAM::OIDCProvider": iam.oidc_provider,
    "AWS::CloudWatch::Alarm": codedeploy.alarm,
    "AWS::CodeDeploy::Application": codedeploy.application,
    "AWS::CodeDeploy::DeploymentGroup": codedeploy.deployment_group,
    "AWS::Lambda::Function": functions.function,
    "AWS::KMS::Key": kms.key,
    "AWS::KMS::Alias": kms.alias,
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
    "AWS::KMS::Key": "moto's CloudFormation makes every key symmetric (ENCRYPT_DECRYPT), "
    "ignoring KeySpec and KeyUsage",
    "AWS::KMS::Alias": "its key is made through KMS's API",
    "AWS::Lambda::Function": "the sandbox's stacks are never updated, and a function that "
    "exists must take the template's code and configuration; its code was packaged from the "
    "template's local path into the sandbox's S3, as `aws cloudformation package` does",
}

# What moto leaves out of a resource whichever way it is made.
MOTO_GAPS = {
    "AWS::ECS::Service": "moto keeps no DeploymentConfiguration (circuit breaker) and no "
    "HealthCheckGracePeriodSeconds",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "moto keeps no TargetGroupAttributes",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "moto keeps no LoadBalancerAttributes",
    "AWS::CodeDeploy::DeploymentGroup": "moto keeps AlarmConfiguration but GetDeploymentGroup "
    "answers it empty",
    "AWS::Lambda::Function": "the sandbox keeps Runtime, Role, Handler, Description, Timeout, "
    "MemorySize and Environment only, and runs the handler under its own Python",
}
