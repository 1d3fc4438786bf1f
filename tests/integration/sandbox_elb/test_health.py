"""Target health checks that really run, and draining on deregistration, seen through
DescribeTargetHealth and through the listener."""

from __future__ import annotations

import json
import threading
from collections import Counter

from shipyard_sandbox import elb


def health_of(elbv2, group: str) -> dict[str, dict]:
    """DescribeTargetHealth of `group`: target IP -> its TargetHealth."""
    answer = elbv2.describe_target_health(TargetGroupArn=group)
    return {d["Target"]["Id"]: d["TargetHealth"] for d in answer["TargetHealthDescriptions"]}


def state_is(elbv2, group: str, ip: str, state: str) -> dict | None:
    health = health_of(elbv2, group).get(ip)
    return health if health and health["State"] == state else None


def register(elbv2, group: str, *targets) -> None:
    elbv2.register_targets(TargetGroupArn=group,
                           Targets=[{"Id": t.ip, "Port": t.port} for t in targets])


def test_a_new_target_is_initial_until_checked_and_unused_outside_any_listener(
        aws, balancer, listen, make_target):
    elbv2 = aws("elbv2")
    # A 300 s interval is 10 s scaled: the second check (HealthyThresholdCount 2) is far off.
    lb = balancer(HealthCheckIntervalSeconds=300, HealthCheckTimeoutSeconds=5)
    listen(lb)
    target = make_target("new")
    register(elbv2, lb["groups"][0], target)
    register(elbv2, lb["groups"][1], target)  # no listener forwards to the second group

    first = health_of(elbv2, lb["groups"][0])[target.ip]
    assert first["State"] == "initial"
    assert first["Reason"] in ("Elb.RegistrationInProgress", "Elb.InitialHealthChecking")
    assert elb.target_health(lb["groups"][0], target.ip, target.port) == "initial"
    unused = health_of(elbv2, lb["groups"][1])[target.ip]
    assert (unused["State"], unused["Reason"]) == ("unused", "Target.NotInUse")
    assert elb.target_health(lb["groups"][1], "127.100.250.254", 8080) is None


def test_a_failing_target_leaves_rotation_with_the_reason_and_comes_back(
        aws, balancer, listen, make_target, http_get, wait_until):
    elbv2 = aws("elbv2")
    lb = balancer()
    _, url = listen(lb)
    steady, flaky = make_target("steady"), make_target("flaky")
    register(elbv2, lb["groups"][0], steady, flaky)
    wait_until(lambda: all(h["State"] == "healthy" for h in health_of(
        elbv2, lb["groups"][0]).values()), what="both healthy")
    assert Counter(json.loads(http_get(url)[2])["name"] for _ in range(10)) == {
        "steady": 5, "flaky": 5}

    flaky.health_status = 500  # outside the matcher's 200-399
    failed = wait_until(lambda: state_is(elbv2, lb["groups"][0], flaky.ip, "unhealthy"),
                        what="flaky unhealthy")
    assert failed["Reason"] == "Target.ResponseCodeMismatch"
    assert failed["Description"] == "Health checks failed with these codes: [500]"
    assert elb.target_health(lb["groups"][0], flaky.ip, flaky.port) == "unhealthy"
    assert Counter(json.loads(http_get(url)[2])["name"] for _ in range(10)) == {"steady": 10}

    flaky.health_status = 302  # inside 200-399
    wait_until(lambda: state_is(elbv2, lb["groups"][0], flaky.ip, "healthy"),
               what="flaky healthy again")


def test_a_target_that_answers_too_late_or_not_at_all_is_unhealthy(
        elb_sandbox, aws, balancer, listen, make_target, http_get, wait_until):
    elbv2 = aws("elbv2")
    lb = balancer()
    _, url = listen(lb)
    slow, gone = make_target("slow"), make_target("gone")
    slow.hang = 3.0  # longer than the check's timeout (2 s scaled, floored at 1 s)
    elb_sandbox.targets.unregister(gone.ip, gone.port)  # nothing reaches this address
    register(elbv2, lb["groups"][0], slow, gone)

    timed_out = wait_until(lambda: state_is(elbv2, lb["groups"][0], slow.ip, "unhealthy"),
                           what="slow unhealthy")
    assert (timed_out["Reason"], timed_out["Description"]) == ("Target.Timeout",
                                                               "Request timed out")
    failed = wait_until(lambda: state_is(elbv2, lb["groups"][0], gone.ip, "unhealthy"),
                        what="gone unhealthy")
    assert failed["Reason"] == "Target.FailedHealthChecks"
    assert http_get(url)[0] == 503  # no healthy target
    slow.hang = 0.0


def test_deregistration_drains_without_cutting_a_request_in_flight(
        aws, balancer, listen, make_target, http_get, wait_until):
    elbv2 = aws("elbv2")
    lb = balancer()
    elbv2.modify_target_group_attributes(TargetGroupArn=lb["groups"][0], Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "30"}])  # 1 s scaled
    _, url = listen(lb)
    old = make_target("old")
    register(elbv2, lb["groups"][0], old)
    wait_until(lambda: state_is(elbv2, lb["groups"][0], old.ip, "healthy"), what="old healthy")

    answers: list[tuple[int, bytes]] = []
    slow = threading.Thread(target=lambda: answers.append(http_get(url, "/slow?s=2")[::2]))
    slow.start()
    try:
        wait_until(lambda: old.in_flight == 1, what="the slow request at the target")
        elbv2.deregister_targets(TargetGroupArn=lb["groups"][0],
                                 Targets=[{"Id": old.ip, "Port": old.port}])
        draining = health_of(elbv2, lb["groups"][0])[old.ip]
        assert (draining["State"], draining["Reason"]) == ("draining",
                                                           "Target.DeregistrationInProgress")
        assert http_get(url)[0] == 503  # no new request goes to a draining target
    finally:
        slow.join(15)
    assert answers and answers[0][0] == 200 and json.loads(answers[0][1])["slept"] is True
    wait_until(lambda: old.ip not in health_of(elbv2, lb["groups"][0]), what="drained")
    gone = elbv2.describe_target_health(TargetGroupArn=lb["groups"][0], Targets=[
        {"Id": old.ip, "Port": old.port}])["TargetHealthDescriptions"][0]["TargetHealth"]
    assert gone["State"] == "unused"
