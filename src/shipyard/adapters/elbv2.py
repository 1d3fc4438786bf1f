"""Elastic Load Balancing v2: which listeners forward to a service's target groups, and how
much of their traffic each group gets (read by `shipyard status`)."""

from __future__ import annotations

from typing import Any

from shipyard.adapters.aws import Aws, translated

MAX_PAGES = 20  # bounds a paged read; 20 pages of 400 rules or listeners is far beyond ALB's


class Elbv2:
    """The ELBv2 reads Shipyard makes, with errors translated."""

    def __init__(self, aws: Aws) -> None:
        self.client = aws.client("elbv2")

    def target_groups(self, arns: list[str]) -> list[dict[str, Any]]:
        """The target groups (each names its load balancers in `LoadBalancerArns`)."""
        if not arns:
            return []
        with translated("elasticloadbalancing:DescribeTargetGroups"):
            return list(self.client.describe_target_groups(TargetGroupArns=arns)[
                "TargetGroups"])

    def listeners(self, load_balancer_arn: str) -> list[dict[str, Any]]:
        """The load balancer's listeners, with their default actions."""
        return self._pages("elasticloadbalancing:DescribeListeners", "Listeners",
                           self.client.describe_listeners, LoadBalancerArn=load_balancer_arn)

    def rules(self, listener_arn: str) -> list[dict[str, Any]]:
        """The listener's rules, the default one included (`IsDefault`)."""
        return self._pages("elasticloadbalancing:DescribeRules", "Rules",
                           self.client.describe_rules, ListenerArn=listener_arn)

    @staticmethod
    def _pages(operation: str, key: str, method: Any, **params: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        marker = ""
        for _ in range(MAX_PAGES):
            with translated(operation):
                page = method(**params, **({"Marker": marker} if marker else {}))
            found += page.get(key, [])
            marker = page.get("NextMarker", "")
            if not marker:
                break
        return found

    def target_health(self, target_group_arn: str) -> list[dict[str, Any]]:
        """Each registered target's health (`TargetHealth`: State, Reason, Description)."""
        with translated("elasticloadbalancing:DescribeTargetHealth"):
            return list(self.client.describe_target_health(
                TargetGroupArn=target_group_arn)["TargetHealthDescriptions"])
