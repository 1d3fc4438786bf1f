"""The sandbox's Lambda environment: load balancer and ECR names pointed at local addresses."""

from __future__ import annotations

import pytest

from shipyard_sandbox.lambdas.addresses import LocalAddresses, rewrite, rewrite_environment

DNS = "gamepulse-1.ap-northeast-2.elb.amazonaws.com"
ECR = "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com"
LOCAL = LocalAddresses(listeners={(DNS, 80): "http://127.0.0.1:40001",
                                  (DNS, 8080): "http://127.0.0.1:40002"},
                       hosts={ECR: "127.0.0.1:5000"})


@pytest.mark.parametrize(("value", "expected"), [
    (f"http://{DNS}", "http://127.0.0.1:40001"),  # no port: 80
    (f"http://{DNS}:8080/health?x=1", "http://127.0.0.1:40002/health?x=1"),
    (f"https://{DNS.upper()}:8080", "http://127.0.0.1:40002"),  # DNS names ignore case
    (f"http://{DNS}:8081", f"http://{DNS}:8081"),  # no listener there: left to fail
    (f"https://{DNS}", f"https://{DNS}"),  # 443: no such listener either
    (f"http://other.{DNS}", f"http://other.{DNS}"),  # another host
    (ECR, "127.0.0.1:5000"),
    (f"{ECR},mirror.example", "127.0.0.1:5000,mirror.example"),
    (f"x{ECR}", f"x{ECR}"),  # only the whole name
    ("plain text", "plain text"),
])
def test_rewrite(value: str, expected: str) -> None:
    assert rewrite(value, LOCAL) == expected


def test_every_variable_is_rewritten_and_nothing_else_changes() -> None:
    environment = {"TEST_URL": f"http://{DNS}:8080", "HTTP_TIMEOUT": "5"}
    assert rewrite_environment(environment, LOCAL) == {
        "TEST_URL": "http://127.0.0.1:40002", "HTTP_TIMEOUT": "5"}
    assert rewrite_environment(environment, LocalAddresses()) == environment
