"""A listener of a sandbox started as users start it (`sandbox up`, in the background): its
URL in `shipyard sandbox env`, and `sandbox down` leaves no listener port open."""

from __future__ import annotations

import http.client
import socket

import boto3

from shipyard_sandbox import control


def test_sandbox_env_names_each_listener_and_down_closes_its_port(tmp_path, shipyard):
    state = tmp_path / "sbx"
    endpoints, _ = control.up(state, region="ap-northeast-2")
    try:
        env = endpoints.environment()
        ec2, elbv2 = (boto3.client(s, region_name=env["AWS_REGION"],
                                   endpoint_url=env["AWS_ENDPOINT_URL"],
                                   aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                                   aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
                      for s in ("ec2", "elbv2"))
        vpc = ec2.create_vpc(CidrBlock="100.64.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"100.64.{i}.0/24",
                                     AvailabilityZone=f"ap-northeast-2{z}")["Subnet"]["SubnetId"]
                   for i, z in enumerate("ab")]
        lb = elbv2.create_load_balancer(Name="game-web", Subnets=subnets)["LoadBalancers"][0]
        elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=443,
            DefaultActions=[{"Type": "redirect", "RedirectConfig": {
                "Protocol": "HTTPS", "Port": "8443", "StatusCode": "HTTP_302"}}])
        run = shipyard(None, "sandbox", "env", "--state-dir", str(state), "--json")
        assert run.code == 0, run.err
        url = run.json()["SHIPYARD_LISTENER_GAME_WEB_443"]
        port = int(url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/play?level=2", headers={"Host": "game.example"})
        answer = connection.getresponse()
        assert answer.status == 302
        assert answer.getheader("Location") == "https://game.example:8443/play?level=2"
        connection.close()
    finally:
        control.down(state)
    assert control.listeners(state) == []
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing listens any more
