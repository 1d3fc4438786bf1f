"""The sandbox's Elastic Load Balancing: moto's ALBs really serving HTTP.

Modelled (application load balancers, `ip` targets):
- every listener moto knows is an HTTP reverse proxy on a free 127.0.0.1 port (`listeners`),
  from CreateListener (or sandbox start) to DeleteListener/DeleteLoadBalancer (or sandbox
  stop); its URL is in STATE_DIR/listeners.json and in `shipyard sandbox env` as
  SHIPYARD_LISTENER_<LOAD BALANCER NAME>_<LISTENER PORT>;
- rules by priority with path-pattern, host-header, http-header, http-request-method,
  query-string and source-ip conditions; forward (weighted), fixed-response and redirect
  actions (`rules`, `listeners`);
- targets (IP, port) reached through `TargetDirectory`, health-checked for real, with ELB's
  states and reason codes in DescribeTargetHealth, draining on deregistration (`health`);
- AWS/ApplicationELB metrics in moto's CloudWatch, per scaled minute (`metrics`).

Not modelled: HTTPS/TLS (an HTTPS listener is served as plain HTTP), HTTP/2 and WebSocket
upgrades, authenticate actions (skipped), stickiness, slow start, fail-open when every target
is unhealthy (503 instead), network and gateway load balancers, instance and lambda targets,
access logs, the idle-timeout attribute (60 s always).

`target_health(target_group_arn, ip, port)` is what the sandbox's ECS asks before it counts a
task as healthy behind its load balancer.
"""

from __future__ import annotations

from shipyard_sandbox.elb.bridge import ElbBridge, active


def target_health(target_group_arn: str, ip: str, port: int) -> str | None:
    """The target's state (initial, healthy, unhealthy, draining, unused, unavailable) in the
    running sandbox, or None when it is not registered or no load balancer runs."""
    bridge = active()
    return bridge.target_health(target_group_arn, ip, port) if bridge else None


__all__ = ["ElbBridge", "target_health"]
