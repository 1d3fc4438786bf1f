"""`shipyard sandbox status`: what the sandbox runs, read back as the user created it."""

from __future__ import annotations

import json

import boto3
import pytest

from shipyard.cli import main

pytestmark = pytest.mark.integration


def test_status_shows_clusters_services_and_listeners_with_their_urls(
        sandbox_env, sandbox_dir, capsys) -> None:
    region = sandbox_env["AWS_REGION"]
    ecs, elbv2 = boto3.client("ecs", region_name=region), boto3.client("elbv2",
                                                                        region_name=region)
    ecs.create_cluster(clusterName="status-test")
    family = ecs.register_task_definition(family="status-test", containerDefinitions=[
        {"name": "app", "image": "public.example.com/app:1", "memory": 64}])
    ecs.create_service(cluster="status-test", serviceName="api", desiredCount=0,
                       taskDefinition=family["taskDefinition"]["taskDefinitionArn"])
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]][:2]
    balancer = elbv2.create_load_balancer(Name="status-test", Subnets=subnets)[
        "LoadBalancers"][0]["LoadBalancerArn"]
    blue, green = (elbv2.create_target_group(Name=f"status-{c}", Protocol="HTTP", Port=80,
                                             VpcId=vpc, TargetType="ip")["TargetGroups"][0]
                   ["TargetGroupArn"] for c in ("blue", "green"))
    elbv2.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": blue, "Weight": 90}, {"TargetGroupArn": green, "Weight": 10}]}}])

    document = {}
    for _ in range(50):  # the load balancer picks the listener up within 50 ms; bounded
        code = main(["sandbox", "status", "--json", "--state-dir", str(sandbox_dir)])
        document = json.loads(capsys.readouterr().out)
        if any(entry["load_balancer"] == "status-test" for entry in document["listeners"]):
            break
    assert code == 0
    cluster = next(c for c in document["clusters"] if c["name"] == "status-test")
    service = next(s for s in cluster["services"] if s["name"] == "api")
    assert service["controller"] == "ECS" and service["task_definition"] == "status-test:1"
    listener = next(e for e in document["listeners"] if e["load_balancer"] == "status-test")
    assert listener["url"].startswith("http://127.0.0.1:") and listener["port"] == 80
    assert listener["weights"] == {"status-blue": 90, "status-green": 10}

    code = main(["sandbox", "status", "--state-dir", str(sandbox_dir)])
    text = capsys.readouterr().out
    assert code == 0 and "cluster status-test" in text
    assert f"listener status-test:80 {listener['url']} -> status-blue 90%, status-green 10%" \
        in text


def test_status_without_a_sandbox_is_a_sandbox_error(tmp_path, capsys) -> None:
    code = main(["sandbox", "status", "--state-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 12 and "no sandbox is running" in err and len(err.splitlines()) == 1
