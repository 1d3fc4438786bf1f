"""AWS/ApplicationELB metrics published from the requests the listener really served."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shipyard_sandbox.elb.metrics import PERIOD_FLOOR


def test_requests_become_cloudwatch_metrics_with_aws_dimensions(
        aws, balancer, listen, make_target, http_get, wait_until):
    elbv2, cloudwatch = aws("elbv2"), aws("cloudwatch")
    lb = balancer()
    _, url = listen(lb)
    target = make_target("measured")
    elbv2.register_targets(TargetGroupArn=lb["groups"][0],
                           Targets=[{"Id": target.ip, "Port": target.port}])
    wait_until(lambda: elbv2.describe_target_health(TargetGroupArn=lb["groups"][0])[
        "TargetHealthDescriptions"][0]["TargetHealth"]["State"] == "healthy", what="healthy")
    statuses = [http_get(url, path)[0] for path in ["/"] * 4 + ["/fail"] * 2 + ["/drop"]]
    assert statuses == [200] * 4 + [500] * 2 + [502]

    balancer_name = lb["lb"].split(":loadbalancer/", 1)[1]
    group_name = lb["groups"][0].rsplit(":", 1)[1]
    assert balancer_name.startswith(f"app/{lb['name']}/")
    assert group_name.startswith("targetgroup/")
    both = [{"Name": "LoadBalancer", "Value": balancer_name},
            {"Name": "TargetGroup", "Value": group_name}]

    def total(metric: str, dimensions: list[dict], statistic: str = "Sum") -> float | None:
        now = datetime.now(UTC)
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/ApplicationELB", MetricName=metric, Dimensions=dimensions,
            StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=1),
            Period=3600, Statistics=[statistic])["Datapoints"]
        return points[0][statistic] if points else None

    # Published once a period (2 s at the default scale): wait for all seven requests.
    wait_until(lambda: total("RequestCount", both) == 7, timeout=10 + 3 * PERIOD_FLOOR,
               what="RequestCount 7")
    assert total("HTTPCode_Target_5XX_Count", both) == 2
    assert total("HTTPCode_Target_2XX_Count", both) == 4
    assert total("HTTPCode_ELB_5XX_Count", both[:1]) == 1
    assert total("HTTPCode_ELB_502_Count", both[:1]) == 1
    assert 0 < total("TargetResponseTime", both, "Average") < 10
    assert total("RequestCount", both[:1]) == 7  # one metric per combination of dimensions

    now = datetime.now(UTC)
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[{"Id": "requests", "MetricStat": {"Metric": {
            "Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount",
            "Dimensions": both[:1]}, "Period": 3600, "Stat": "Sum"}}],
        StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=1))
    assert sum(answer["MetricDataResults"][0]["Values"]) == 7
