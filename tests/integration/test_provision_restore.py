"""`sandbox provision` remakes what was deleted behind its stacks' backs, and says so.

moto's CloudFormation keeps listing a resource deleted through its service's API; the
provisioner asks each service instead (`shipyard_sandbox.provision.probes`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from shipyard_sandbox.provision import ProvisionReport, provision

pytestmark = pytest.mark.integration

# One resource of each kind a stack makes here, and two that refer to another: an ingress rule
# that has no id of its own, and a parameter holding the group's id.
TEMPLATE = """\
Resources:
  Network:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 100.64.0.0/16}
  Logs:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupName: /t/restore/app, RetentionInDays: 7}
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties: {GroupDescription: restore test, VpcId: !Ref Network}
  GroupIngress:
    Type: AWS::EC2::SecurityGroupIngress
    Properties:
      GroupId: !GetAtt Group.GroupId
      IpProtocol: tcp
      FromPort: 8080
      ToPort: 8080
      CidrIp: 127.0.0.1/32
  Topic:
    Type: AWS::SNS::Topic
    Properties: {TopicName: t-restore-topic}
  GroupParameter:
    Type: AWS::SSM::Parameter
    Properties: {Name: /t/restore/group, Type: String, Value: !GetAtt Group.GroupId}
  LogsParameter:
    Type: AWS::SSM::Parameter
    Properties: {Name: /t/restore/logs, Type: String, Value: !Ref Logs}
"""


def test_resources_deleted_outside_the_stack_are_made_again(sandbox: dict[str, str],
                                                            tmp_path: Path) -> None:
    aws = _clients(sandbox)
    template = tmp_path / "restore.yaml"
    template.write_text(TEMPLATE)

    def run() -> ProvisionReport:
        return provision(sandbox["AWS_ENDPOINT_URL"], sandbox["AWS_REGION"], template, {},
                         stack_name="t-restore")

    first = run()
    assert _states(first) == dict.fromkeys(_states(first), "created")
    old_group = first.outcome("Group").physical_id

    aws("logs").delete_log_group(logGroupName="/t/restore/app")
    aws("sns").delete_topic(TopicArn=first.outcome("Topic").physical_id)
    aws("ec2").delete_security_group(GroupId=old_group)  # its ingress rule goes with it
    aws("ssm").delete_parameter(Name="/t/restore/group")

    second = run()
    restored = {"Logs", "Topic", "Group", "GroupIngress", "GroupParameter"}
    assert _states(second) == {lid: "created" if lid in restored else "exists"
                               for lid in _states(first)}
    assert all(second.outcome(lid).detail == "stack t-restore-restored-1" for lid in restored)
    assert second.stacks == ["t-restore", "t-restore-restored-1"]
    # What the services hold now, asked directly.
    groups = aws("logs").describe_log_groups(logGroupNamePrefix="/t/restore/")["logGroups"]
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups] == [
        ("/t/restore/app", 7)]
    aws("sns").get_topic_attributes(TopicArn=second.outcome("Topic").physical_id)
    new_group = second.outcome("Group").physical_id
    assert new_group != old_group
    rules = aws("ec2").describe_security_groups(GroupIds=[new_group])["SecurityGroups"][0]
    assert [(r["FromPort"], r["IpRanges"][0]["CidrIp"]) for r in rules["IpPermissions"]] == [
        (8080, "127.0.0.1/32")]
    parameter = aws("ssm").get_parameter(Name="/t/restore/group")["Parameter"]
    assert parameter["Value"] == new_group

    third = run()
    assert set(_states(third).values()) == {"exists"}
    assert third.stacks == second.stacks
    assert third.outcome("Group").physical_id == new_group
    names = [s["StackName"] for s in aws("cloudformation").describe_stacks()["Stacks"]]
    assert sorted(n for n in names if n.startswith("t-restore")) == [
        "t-restore", "t-restore-restored-1"]


def _states(report: ProvisionReport) -> dict[str, str]:
    return {r.logical_id: r.state for r in report.resources}


def _clients(env: dict[str, str]) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=env["AWS_REGION"])
    return lambda service: session.client(service, endpoint_url=env["AWS_ENDPOINT_URL"])
