"""Whether a resource a stack made still exists, asked of its own service.

moto's CloudFormation keeps listing a stack's resource after it was deleted through the
service's API (`aws logs delete-log-group`), as real CloudFormation does until drift
detection; so a stack that exists says nothing about its resources. Each probe takes the
resource's physical id (its Ref value) and, for the few that have none, its resolved
properties.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from shipyard_sandbox.provision.aws import Aws, error_code

# A probe: (aws, physical id, resolved properties) -> whether the resource exists.
Probe = Callable[[Aws, str, Callable[[], dict[str, Any]]], bool]


def _found(call: Callable[[], Any]) -> Any | None:
    """`call`'s answer, or None when the service says the resource is not found (every service
    spells it `...NotFound...`); any other error is raised."""
    try:
        return call()
    except ClientError as exc:
        if "NotFound" in error_code(exc):
            return None
        raise


def _answers(call: Callable[[], Any]) -> bool:
    return _found(call) is not None


def _log_group(aws: Aws, name: str, _: Callable[[], dict[str, Any]]) -> bool:
    groups = aws("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return any(group["logGroupName"] == name for group in groups)


# An ingress rule's source, as CloudFormation names it -> where DescribeSecurityGroups lists it.
_SOURCES = {"CidrIp": ("IpRanges", "CidrIp"), "CidrIpv6": ("Ipv6Ranges", "CidrIpv6"),
            "SourceSecurityGroupId": ("UserIdGroupPairs", "GroupId"),
            "SourcePrefixListId": ("PrefixListIds", "PrefixListId")}


def _ingress(aws: Aws, _: str, properties: Callable[[], dict[str, Any]]) -> bool:
    """An ingress rule has no physical id: look for the rule in its group."""
    rule = properties()
    which = ({"GroupIds": [rule["GroupId"]]} if "GroupId" in rule
             else {"GroupNames": [rule.get("GroupName", "")]})
    answer = _found(lambda: aws("ec2").describe_security_groups(**which))
    if answer is None:
        return False
    sources = [(listed, key, rule[name]) for name, (listed, key) in _SOURCES.items()
               if name in rule]
    if not sources:
        return True  # a source the sandbox does not know how to find: the stack's word
    protocol = str(rule.get("IpProtocol", "")).lower()
    ports = (int(rule.get("FromPort", -1)), int(rule.get("ToPort", -1)))
    return any(
        str(permission.get("IpProtocol")).lower() == protocol
        and (permission.get("FromPort", -1), permission.get("ToPort", -1)) == ports
        and all(any(entry.get(key) == value for entry in permission.get(listed, []))
                for listed, key, value in sources)
        for permission in answer["SecurityGroups"][0].get("IpPermissions", []))


# Every type moto's CloudFormation makes for the provisioner (see `creators.API_REASONS` for
# those made through their API, which find their resource themselves).
PROBES: dict[str, Probe] = {
    "AWS::Logs::LogGroup": _log_group,
    "AWS::SSM::Parameter": lambda aws, ref, _: _answers(
        lambda: aws("ssm").get_parameter(Name=ref)),
    "AWS::SNS::Topic": lambda aws, ref, _: _answers(
        lambda: aws("sns").get_topic_attributes(TopicArn=ref)),
    "AWS::EC2::VPC": lambda aws, ref, _: _answers(
        lambda: aws("ec2").describe_vpcs(VpcIds=[ref])),
    "AWS::EC2::Subnet": lambda aws, ref, _: _answers(
        lambda: aws("ec2").describe_subnets(SubnetIds=[ref])),
    "AWS::EC2::SecurityGroup": lambda aws, ref, _: _answers(
        lambda: aws("ec2").describe_security_groups(GroupIds=[ref])),
    "AWS::EC2::SecurityGroupIngress": _ingress,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": lambda aws, ref, _: _answers(
        lambda: aws("elbv2").describe_load_balancers(LoadBalancerArns=[ref])),
    "AWS::ElasticLoadBalancingV2::TargetGroup": lambda aws, ref, _: _answers(
        lambda: aws("elbv2").describe_target_groups(TargetGroupArns=[ref])),
    "AWS::ElasticLoadBalancingV2::Listener": lambda aws, ref, _: _answers(
        lambda: aws("elbv2").describe_listeners(ListenerArns=[ref])),
    "AWS::EFS::FileSystem": lambda aws, ref, _: _answers(
        lambda: aws("efs").describe_file_systems(FileSystemId=ref)),
    "AWS::EFS::MountTarget": lambda aws, ref, _: _answers(
        lambda: aws("efs").describe_mount_targets(MountTargetId=ref)),
}
