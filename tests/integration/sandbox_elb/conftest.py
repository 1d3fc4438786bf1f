"""Fixtures for the sandbox's load balancer: an in-process sandbox, and targets to balance.

The target directory lives inside the sandbox process, so these tests run the sandbox
(`Sandbox`: registry, front proxy, moto, the ELB bridge) in the test process and register
their targets' sockets in `sandbox.targets` directly, as the sandbox's ECS does for a task;
everything AWS-side goes through boto3 against the sandbox's endpoint, and requests through the
listeners' URLs, as a user's code would.

`UnixTarget` is a small HTTP server on a Unix socket, standing for one task's port: `/` answers
its name and version, `/health` 200 (or what `health_status` says), `/slow?s=N` after N
seconds (counted in `in_flight` meanwhile), `/fail` 500, `/drop` closes the connection without
an answer; `hang` makes `/health` wait that long (longer than any check timeout).

`http_get` and `wait_until` are fixtures handing out helpers (this folder has no helper
module to import from).
"""

from __future__ import annotations

import http.client
import itertools
import json
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from shipyard_sandbox.service import Sandbox
from shipyard_sandbox.targets import Endpoint

_ips = itertools.count(1)
MAX_SLOW = 10.0


class _TargetHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _UnixServer

    def log_message(self, format, *args):  # quiet: the test reads answers, not logs
        pass

    def do_GET(self) -> None:
        target = self.server.target
        parts = urlsplit(self.path)
        if parts.path == "/health":
            if target.hang:
                time.sleep(target.hang)
            self._answer(target.health_status, {"health": target.health_status})
        elif parts.path == "/slow":
            with target.lock:
                target.in_flight += 1
            try:
                time.sleep(min(MAX_SLOW, float(parse_qs(parts.query).get("s", ["1"])[0])))
                self._answer(200, {"name": target.name, "slept": True})
            finally:
                with target.lock:
                    target.in_flight -= 1
        elif parts.path == "/drop":
            self.close_connection = True  # no answer at all: the load balancer's 502
        elif parts.path == "/fail":
            self._answer(500, {"name": target.name, "error": "on purpose"})
        else:
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._answer(200, {"name": target.name, "version": target.version,
                               "path": self.path, "headers": headers})

    def _answer(self, status: int, document: dict) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _UnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    target: UnixTarget

    def handle_error(self, request, client_address) -> None:
        pass  # a health check that gave up (timeout) leaves a broken pipe: not news

    def get_request(self):
        sock, _ = super().get_request()
        return sock, ("127.0.0.1", 0)  # http.server wants a (host, port) client address


class UnixTarget:
    """One target: an HTTP server on `socket_path`, reported as (`ip`, `port`)."""

    def __init__(self, socket_path: Path, name: str, version: str = "1") -> None:
        self.socket_path = socket_path
        self.name = name
        self.version = version
        self.health_status = 200
        self.hang = 0.0
        self.in_flight = 0
        self.lock = threading.Lock()
        self.ip = f"127.100.250.{next(_ips)}"
        self.port = 8080
        self.server = _UnixServer(str(socket_path), _TargetHandler)
        self.server.target = self
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.socket_path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def elb_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A sandbox running in this process, shared by this folder's tests (each makes load
    balancers of its own)."""
    sandbox = Sandbox(tmp_path_factory.mktemp("elb-sbx"))
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(scope="session")
def aws(elb_sandbox: Sandbox) -> Callable[[str], object]:
    """aws(service) -> a boto3 client on the sandbox's endpoint."""
    endpoints = elb_sandbox.endpoints

    def client(service: str):
        return boto3.client(service, region_name=endpoints.region,
                            endpoint_url=endpoints.aws_endpoint,
                            aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
    return client


@pytest.fixture(scope="session")
def subnets(aws) -> list[str]:
    """Two subnets in two zones (an ALB needs two); addresses in moto only, never used."""
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="100.64.0.0/16")["Vpc"]["VpcId"]
    return [ec2.create_subnet(VpcId=vpc, CidrBlock=f"100.64.{i}.0/24",
                              AvailabilityZone=f"ap-northeast-2{zone}")["Subnet"]["SubnetId"]
            for i, zone in enumerate("ab")]


@pytest.fixture
def make_target(elb_sandbox: Sandbox, tmp_path: Path) -> Iterator[Callable[..., UnixTarget]]:
    """make_target(name, version) -> a running target registered in the target directory."""
    made: list[UnixTarget] = []

    def make(name: str, version: str = "1") -> UnixTarget:
        target = UnixTarget(tmp_path / f"{name}.sock", name, version)
        elb_sandbox.targets.register(target.ip, target.port, Endpoint(
            target.socket_path, f"task/{name}", name))
        made.append(target)
        return target

    yield make
    for target in made:
        elb_sandbox.targets.unregister(target.ip, target.port)
        target.stop()


_names = itertools.count()


@pytest.fixture
def balancer(aws, subnets: list[str], request) -> Callable[..., dict]:
    """balancer(**target group settings) -> {"lb": ARN, "groups": [ARN, ARN], "vpc"}: an ALB
    and two target groups (fast health checks) of the test's own."""
    elbv2 = aws("elbv2")

    def make(**settings) -> dict:
        number = next(_names)
        lb = elbv2.create_load_balancer(Name=f"lb-{number}", Subnets=subnets,
                                        Type="application")["LoadBalancers"][0]
        health = {"HealthCheckPath": "/health", "HealthCheckIntervalSeconds": 5,
                  "HealthCheckTimeoutSeconds": 2, "HealthyThresholdCount": 2,
                  "UnhealthyThresholdCount": 2, "Matcher": {"HttpCode": "200-399"},
                  **settings}
        groups = [elbv2.create_target_group(
            Name=f"tg-{number}-{suffix}", Protocol="HTTP", Port=8080, TargetType="ip",
            VpcId=lb["VpcId"], **health)["TargetGroups"][0]["TargetGroupArn"]
            for suffix in ("a", "b")]
        return {"lb": lb["LoadBalancerArn"], "name": lb["LoadBalancerName"], "groups": groups}
    return make


@pytest.fixture
def listen(elb_sandbox: Sandbox, aws) -> Callable[..., tuple[str, str]]:
    """listen(lb, port=80, actions=None) -> (listener ARN, its local URL): CreateListener
    (forwarding to the first group unless `actions`), and the URL found as a user finds it,
    in the sandbox's listeners file."""
    from shipyard_sandbox import control

    def make(lb: dict, port: int = 80, actions: list[dict] | None = None) -> tuple[str, str]:
        actions = actions or [{"Type": "forward", "TargetGroupArn": lb["groups"][0]}]
        arn = aws("elbv2").create_listener(LoadBalancerArn=lb["lb"], Protocol="HTTP",
                                           Port=port, DefaultActions=actions,
                                           )["Listeners"][0]["ListenerArn"]
        urls = {e["listener_arn"]: e["url"] for e in control.listeners(elb_sandbox.state_dir)}
        return arn, urls[arn]
    return make


@pytest.fixture
def http_get() -> Callable[..., tuple[int, dict[str, str], bytes]]:
    return get


@pytest.fixture
def wait_until() -> Callable[..., object]:
    return wait_for


def get(url: str, path: str = "/", *, timeout: float = 15.0,
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One GET to a listener's URL: (status, headers, body)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        connection.close()


def wait_for(condition: Callable[[], object], timeout: float = 15.0, what: str = "") -> object:
    """Poll `condition` (bounded in time) until it is truthy; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what or condition}")
        time.sleep(0.05)
