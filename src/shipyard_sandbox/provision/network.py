"""The network made for a template whose VPC and subnet parameters are left out."""

from __future__ import annotations

from typing import Any

from shipyard_sandbox.provision.aws import Aws
from shipyard_sandbox.provision.report import ProvisionReport

SANDBOX_CIDR = "10.42.0.0/16"


def sandbox_network(aws: Aws, stack_name: str, report: ProvisionReport) -> tuple[str, list[str]]:
    """A VPC and two subnets in two zones (an ALB needs two), found by their Name tags."""
    ec2, name = aws("ec2"), f"{stack_name}-sandbox"

    def tagged(kind: str, tag: str) -> list[dict[str, Any]]:
        return [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": tag}]}]

    found = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [name]}])["Vpcs"]
    if found:
        vpc, state = found[0]["VpcId"], "exists"
    else:
        vpc, state = ec2.create_vpc(CidrBlock=SANDBOX_CIDR, TagSpecifications=tagged(
            "vpc", name))["Vpc"]["VpcId"], "created"
    report.record("SandboxVpc", "AWS::EC2::VPC", "api", state, vpc, "made for the template's "
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
                AvailabilityZone=f"{aws.region}{zone}",
                TagSpecifications=tagged("subnet", tag))["Subnet"]["SubnetId"]
            state = "created"
        report.record(f"SandboxSubnet{zone.upper()}", "AWS::EC2::Subnet", "api", state, subnet,
                      "made for the template's subnet parameters")
        subnets.append(subnet)
    return vpc, subnets
