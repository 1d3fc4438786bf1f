"""Which action of a listener answers a request: ALB rule evaluation over moto's objects.

Rules are tried by ascending priority, the default rule last. A rule matches when every one of
its conditions matches; a condition matches when any of its values does. Modelled conditions:
path-pattern (case-sensitive), host-header (case-insensitive, port ignored), http-header,
http-request-method, query-string and source-ip; `*` and `?` are wildcards as on ALB. Of a
rule's actions the last (the terminal one) is used: `authenticate-*` actions are skipped, as
nothing in the sandbox can authenticate.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class Request:
    """What a rule looks at."""

    method: str
    path: str
    query: str
    host: str
    headers: dict[str, str]  # lower-cased names
    source_ip: str


@lru_cache(maxsize=1024)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    text = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(text, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _matches(pattern: str, value: str, *, ignore_case: bool) -> bool:
    return _wildcard(pattern, ignore_case).fullmatch(value) is not None


def _values(condition: dict[str, Any], config_key: str) -> list[Any]:
    config = condition.get(config_key) or {}
    return list(config.get("Values") or condition.get("Values") or [])


def condition_matches(condition: dict[str, Any], request: Request) -> bool:
    field = condition.get("Field")
    if field == "path-pattern":
        return any(_matches(v, request.path, ignore_case=False)
                   for v in _values(condition, "PathPatternConfig"))
    if field == "host-header":
        host = request.host.rsplit(":", 1)[0] if request.host.count(":") == 1 else request.host
        return any(_matches(v, host, ignore_case=True)
                   for v in _values(condition, "HostHeaderConfig"))
    if field == "http-request-method":
        return request.method in _values(condition, "HttpRequestMethodConfig")
    if field == "http-header":
        config = condition.get("HttpHeaderConfig") or {}
        value = request.headers.get(str(config.get("HttpHeaderName", "")).lower())
        return value is not None and any(_matches(v, value, ignore_case=True)
                                         for v in config.get("Values") or [])
    if field == "query-string":
        pairs = parse_qsl(request.query, keep_blank_values=True)
        return any(_query_matches(v, pairs)
                   for v in (condition.get("QueryStringConfig") or {}).get("Values") or [])
    if field == "source-ip":
        try:
            source = ipaddress.ip_address(request.source_ip)
        except ValueError:
            return False
        return any(source in ipaddress.ip_network(v, strict=False)
                   for v in _values(condition, "SourceIpConfig"))
    return False  # a condition the sandbox does not know never matches


def _query_matches(wanted: dict[str, str], pairs: list[tuple[str, str]]) -> bool:
    key, value = wanted.get("Key"), wanted.get("Value", "")
    return any((key is None or _matches(key, k, ignore_case=True))
               and _matches(value, v, ignore_case=True) for k, v in pairs)


def _priority(rule: Any) -> float:
    try:
        return float(rule.priority)
    except (TypeError, ValueError):
        return float("inf")  # the default rule


def rule_for(listener: Any, request: Request) -> Any | None:
    """The listener's first rule (by priority) whose conditions all match."""
    rules = sorted(list(listener.rules.values()), key=_priority)
    for rule in rules:
        if rule.is_default or all(condition_matches(c, request) for c in rule.conditions or []):
            return rule
    return None


def terminal_action(rule: Any) -> Any | None:
    actions = [a for a in list(rule.actions or []) if not str(a.type).startswith("authenticate")]
    if not actions:
        return None
    return max(actions, key=lambda a: int(a.data.get("Order", 0) or 0))


def weighted_target_groups(action: Any) -> list[tuple[str, int]]:
    """A forward action's (target group ARN, weight) pairs."""
    data = action.data
    config = data.get("ForwardConfig") or {}
    groups = [(g["TargetGroupArn"], int(g.get("Weight", 1) or 0))
              for g in config.get("TargetGroups") or []]
    if not groups and data.get("TargetGroupArn"):
        groups = [(data["TargetGroupArn"], 1)]
    return groups


def target_groups_in_use(backend: Any) -> dict[str, set[str]]:
    """ARN of each target group some listener rule forwards to -> its load balancers' ARNs."""
    in_use: dict[str, set[str]] = {}
    for balancer in list(backend.load_balancers.values()):
        for listener in list(balancer.listeners.values()):
            for rule in list(listener.rules.values()):
                for action in list(rule.actions or []):
                    if action.type == "forward":
                        for arn, _ in weighted_target_groups(action):
                            in_use.setdefault(arn, set()).add(balancer.arn)
    return in_use
