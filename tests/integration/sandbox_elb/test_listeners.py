"""Listeners as real reverse proxies: forwarding, weights, rules, and the load balancer's own
answers (502, 503, fixed responses), all driven through boto3 and the listeners' URLs."""

from __future__ import annotations

import json
from collections import Counter

from shipyard_sandbox import control
from shipyard_sandbox.elb import ElbBridge

REQUESTS = 200


def healthy(elbv2, group: str, count: int) -> bool:
    states = [d["TargetHealth"]["State"] for d in elbv2.describe_target_health(
        TargetGroupArn=group)["TargetHealthDescriptions"]]
    return states.count("healthy") == count


def register(elbv2, group: str, *targets) -> None:
    elbv2.register_targets(TargetGroupArn=group,
                           Targets=[{"Id": t.ip, "Port": t.port} for t in targets])


def one_target_per_group(elbv2, lb: dict, make_target, *names: str) -> None:
    """A target of its own in each of the balancer's two groups, named `names`."""
    for group, name in zip(lb["groups"], names, strict=True):
        register(elbv2, group, make_target(name))


def test_a_listener_forwards_to_its_target_with_forwarding_headers(
        elb_sandbox, aws, balancer, listen, make_target, http_get, wait_until):
    elbv2 = aws("elbv2")
    lb = balancer()
    _, url = listen(lb)
    blue = make_target("blue", "7")
    register(elbv2, lb["groups"][0], blue)
    wait_until(lambda: healthy(elbv2, lb["groups"][0], 1), what="blue healthy")

    assert not url.endswith(":80")  # the listener's own port is never bound
    status, _, body = http_get(url, "/hello?x=1", headers={"X-Forwarded-For": "203.0.113.9"})
    answer = json.loads(body)
    assert status == 200
    assert (answer["name"], answer["version"], answer["path"]) == ("blue", "7", "/hello?x=1")
    assert answer["headers"]["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert answer["headers"]["x-forwarded-proto"] == "http"
    assert answer["headers"]["x-forwarded-port"] == "80"
    assert answer["headers"]["x-amzn-trace-id"].startswith("Root=1-")
    variable = f"SHIPYARD_LISTENER_{lb['name'].upper().replace('-', '_')}_80"
    assert control.listener_environment(elb_sandbox.state_dir)[variable] == url


def test_forward_weights_split_traffic_and_a_weight_change_moves_it(
        aws, balancer, listen, make_target, http_get, wait_until):
    elbv2 = aws("elbv2")
    lb = balancer()
    one_target_per_group(elbv2, lb, make_target, "blue", "green")

    def forward(blue_weight: int, green_weight: int) -> list[dict]:
        return [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": lb["groups"][0], "Weight": blue_weight},
            {"TargetGroupArn": lb["groups"][1], "Weight": green_weight}]}}]

    listener, url = listen(lb, 8080, forward(80, 20))
    wait_until(lambda: healthy(elbv2, lb["groups"][0], 1) and healthy(elbv2, lb["groups"][1], 1),
               what="both groups healthy")
    seen = Counter(json.loads(http_get(url)[2])["name"] for _ in range(REQUESTS))
    assert abs(seen["blue"] - 0.8 * REQUESTS) <= 0.05 * REQUESTS, seen
    assert seen["blue"] + seen["green"] == REQUESTS

    elbv2.modify_listener(ListenerArn=listener, DefaultActions=forward(0, 1))
    seen = Counter(json.loads(http_get(url)[2])["name"] for _ in range(20))
    assert seen == {"green": 20}


def test_rules_route_by_path_and_host_before_the_default(
        aws, balancer, listen, make_target, http_get, wait_until):
    elbv2 = aws("elbv2")
    lb = balancer()
    one_target_per_group(elbv2, lb, make_target, "web", "api")
    listener, url = listen(lb)
    elbv2.create_rule(ListenerArn=listener, Priority=10, Conditions=[
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": lb["groups"][1]}])
    elbv2.create_rule(ListenerArn=listener, Priority=5, Conditions=[
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["admin.*.example"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {
            "StatusCode": "403", "ContentType": "text/plain", "MessageBody": "no admin"}}])
    wait_until(lambda: healthy(elbv2, lb["groups"][0], 1) and healthy(elbv2, lb["groups"][1], 1),
               what="both groups healthy")

    assert json.loads(http_get(url, "/api/scores")[2])["name"] == "api"
    assert json.loads(http_get(url, "/API/scores")[2])["name"] == "web"  # case-sensitive
    assert json.loads(http_get(url, "/")[2])["name"] == "web"
    status, headers, body = http_get(url, "/api/x", headers={"Host": "Admin.Game.example:80"})
    assert (status, body, headers["Content-Type"]) == (403, b"no admin", "text/plain")


def test_no_healthy_target_is_503_and_a_target_that_breaks_off_is_502(
        aws, balancer, listen, make_target, http_get, wait_until):
    elbv2 = aws("elbv2")
    lb = balancer()
    _, url = listen(lb)
    status, headers, body = http_get(url)
    assert (status, headers["Server"]) == (503, "awselb/2.0")
    assert b"503 Service Temporarily Unavailable" in body

    target = make_target("brittle")
    register(elbv2, lb["groups"][0], target)
    wait_until(lambda: healthy(elbv2, lb["groups"][0], 1), what="target healthy")
    assert http_get(url, "/drop")[0] == 502
    assert http_get(url, "/fail")[0] == 500  # the target's own 5xx passes through
    assert http_get(url, "/")[0] == 200


def test_a_deleted_listener_closes_its_port(elb_sandbox, aws, balancer, listen, http_get):
    elbv2 = aws("elbv2")
    listener, url = listen(balancer(), 80, [{"Type": "fixed-response", "FixedResponseConfig": {
        "StatusCode": "200", "ContentType": "text/plain", "MessageBody": "up"}}])
    assert http_get(url)[2] == b"up"
    elbv2.delete_listener(ListenerArn=listener)
    assert listener not in {e["listener_arn"] for e in control.listeners(elb_sandbox.state_dir)}
    try:
        http_get(url, timeout=5)
    except ConnectionRefusedError:
        return
    raise AssertionError(f"{url} still answers after DeleteListener")


def test_listeners_that_exist_when_the_load_balancer_starts_are_served(
        elb_sandbox, balancer, listen, http_get):
    listener, _ = listen(balancer(), 80, [{"Type": "fixed-response",
                                                "FixedResponseConfig": {"StatusCode": "200"}}])
    elb_sandbox.elb.stop()
    assert control.listeners(elb_sandbox.state_dir) == []
    elb_sandbox.elb = ElbBridge(account_id=elb_sandbox.account_id, region=elb_sandbox.region,
                                targets=elb_sandbox.targets, state_dir=elb_sandbox.state_dir)
    elb_sandbox.elb.start()
    urls = {e["listener_arn"]: e["url"] for e in control.listeners(elb_sandbox.state_dir)}
    assert http_get(urls[listener])[0] == 200
