"""Doctor's permission checks: whether the caller may make each AWS call Shipyard's commands
make, asked of IAM's policy simulator (`iam:SimulatePrincipalPolicy`). Where the simulator
cannot be asked (the permission is missing, the endpoint has none, the caller is not an IAM
user or role), the check says it cannot tell rather than guess."""

from __future__ import annotations

from shipyard.domain.diagnosis import Group
from shipyard.errors import ShipyardError
from shipyard.usecases.context import Context

# The calls each command makes (the registry's requests are authorized as these ECR actions).
COMMAND_ACTIONS: dict[str, tuple[str, ...]] = {
    "push": ("ecr:GetAuthorizationToken", "ecr:DescribeRepositories", "ecr:CreateRepository",
             "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload",
             "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage",
             "ecr:BatchGetImage"),
    "scan": ("ecr:DescribeImageScanFindings", "ecr:StartImageScan",
             "ecr:GetRegistryScanningConfiguration"),
    "sign and sbom": ("kms:Sign", "kms:GetPublicKey", "ecr:GetDownloadUrlForLayer"),
    "deploy": ("ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition",
               "ecs:DescribeServices", "ecs:UpdateService", "ecs:DescribeClusters",
               "ecs:ListTasks", "ecs:DescribeTasks", "logs:GetLogEvents",
               "logs:DescribeLogGroups", "iam:PassRole",
               "elasticloadbalancing:DescribeTargetHealth"),
    "blue/green deploy": ("codedeploy:CreateDeployment", "codedeploy:GetDeployment",
                          "codedeploy:GetDeploymentGroup", "codedeploy:GetDeploymentConfig",
                          "codedeploy:ListDeploymentTargets",
                          "codedeploy:GetDeploymentTarget", "codedeploy:StopDeployment",
                          "codedeploy:ListDeployments"),
    # (ContinueDeployment is `deploy --approve-traffic`'s, for a group that waits at Ready;
    # a role for a group that never waits need not have it)
    "cleanup": ("ecr:DescribeImages", "ecr:BatchDeleteImage", "ecs:ListServices"),
}


def check_permissions(group: Group, ctx: Context | None, caller_arn: str) -> None:
    if ctx is None or not caller_arn:
        group.skip("permissions", "no AWS identity to ask about")
        return
    principal = principal_of(caller_arn)
    if principal is None:
        group.skip("permissions", f"cannot tell: {caller_arn} is not an IAM user or role "
                   "the simulator can evaluate")
        return
    actions = sorted({a for actions in COMMAND_ACTIONS.values() for a in actions})
    try:
        decisions = ctx.iam.simulate(principal, actions, ["*"])
    except ShipyardError as exc:
        group.skip("permissions", f"cannot tell: {exc.message.split('; ', 1)[0]} (grant "
                   "iam:SimulatePrincipalPolicy on the caller to have it checked)")
        return
    for command, needed in COMMAND_ACTIONS.items():
        denied = [a for a in needed if decisions.get(a, "") != "allowed"]
        if denied:
            group.fail(f"permissions: {command}", f"{principal} may not "
                       f"{', '.join(denied)}", "grant them to the role (for GamePulse: the "
                       "deploy role of infra/gamepulse.yaml has each)")
        else:
            group.ok(f"permissions: {command}", f"{len(needed)} actions allowed")


def principal_of(caller_arn: str) -> str | None:
    """The IAM ARN the simulator takes for a caller: a user as it is, an assumed role as its
    role (`arn:aws:sts::A:assumed-role/R/session` -> `arn:aws:iam::A:role/R`; a role with a
    path loses it, which IAM then reports as not found)."""
    parts = caller_arn.split(":", 5)
    if len(parts) != 6:
        return None
    _, partition, service, _, account, resource = parts
    if service == "iam" and resource.startswith(("user/", "role/")):
        return caller_arn
    if service == "sts" and resource.startswith("assumed-role/"):
        role = resource.split("/")[1]
        return f"arn:{partition}:iam::{account}:role/{role}"
    return None
