"""The sandbox's pieces assembled and running in one process."""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
from moto.server import ThreadedMotoServer

from shipyard_sandbox import ecr_bridge
from shipyard_sandbox.alarms import AlarmEvaluator, moto_backends
from shipyard_sandbox.elb import ElbBridge
from shipyard_sandbox.front import FrontServer
from shipyard_sandbox.registry import REGISTRY_USER, RegistryProcess, free_port
from shipyard_sandbox.scanner import Scanner
from shipyard_sandbox.targets import TargetDirectory

DEFAULT_ACCOUNT = "123456789012"  # moto's default account
DEFAULT_REGION = "ap-northeast-2"
SANDBOX_KEY = "sandbox"  # moto accepts any credentials; these are not secrets


@dataclass
class SandboxEndpoints:
    """Where the sandbox listens, as the environment a client exports."""

    aws_endpoint: str
    registry: str
    region: str
    account_id: str

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": SANDBOX_KEY,
            "AWS_SECRET_ACCESS_KEY": SANDBOX_KEY,
            "SHIPYARD_REGISTRY": self.registry,
        }


class Sandbox:
    """Registry, front proxy and moto, started together; `stop()` ends all three."""

    def __init__(self, state_dir: Path, *, region: str = DEFAULT_REGION, registry_port: int = 0,
                 aws_port: int = 0, account_id: str = DEFAULT_ACCOUNT) -> None:
        self.state_dir = state_dir
        self.region = region
        self.account_id = account_id
        self.registry_port = registry_port or free_port()
        self.aws_port = aws_port or free_port()
        self.password = secrets.token_urlsafe(32)
        self.registry = RegistryProcess(state_dir / "registry", free_port(), self.password)
        self.front: FrontServer | None = None
        self.moto: ThreadedMotoServer | None = None
        self.lambdas = None  # shipyard_sandbox.lambdas.runner.LambdaRunner once started
        self.targets = TargetDirectory()  # ECS registers task ports here, the ELB looks them up
        self.elb: ElbBridge | None = None
        self.ecs = None  # shipyard_sandbox.ecs.EcsSandbox once started
        self.alarms: AlarmEvaluator | None = None  # CloudWatch alarms evaluated on metrics
        self.codedeploy = None  # shipyard_sandbox.codedeploy.api.CodeDeployBridge once started

    @property
    def endpoints(self) -> SandboxEndpoints:
        return SandboxEndpoints(f"http://127.0.0.1:{self.aws_port}",
                                f"127.0.0.1:{self.registry_port}", self.region, self.account_id)

    def start(self) -> SandboxEndpoints:
        self.registry.start()
        auth = "Basic " + base64.b64encode(f"{REGISTRY_USER}:{self.password}".encode()).decode()
        storage = self.registry.root / "storage"
        scanner = Scanner(lambda repo, digest: self._layers(storage, digest))
        bridge = ecr_bridge.EcrBridge(
            account_id=self.account_id, region=self.region, password=self.password,
            registry_endpoint=f"http://127.0.0.1:{self.registry_port}", storage_dir=storage,
            delete_manifest=lambda repo, digest: self._delete(auth, repo, digest),
            findings_for=scanner.findings_for,
        )
        ecr_bridge.install(bridge)
        self.front = FrontServer(("127.0.0.1", self.registry_port), self.registry.address,
                                 bridge, auth)
        threading.Thread(target=self.front.serve_forever, daemon=True).start()
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.aws_port, verbose=False)
        self.moto.start()
        self._start_lambdas()
        self.elb = ElbBridge(account_id=self.account_id, region=self.region,
                             targets=self.targets, state_dir=self.state_dir)
        self.elb.start()
        self._start_ecs()
        self.alarms = AlarmEvaluator(moto_backends).start()
        self._start_codedeploy()
        self._warm_up()
        return self.endpoints

    def _start_lambdas(self) -> None:
        """Lambda's Invoke runs handlers in subprocesses that talk back to this moto."""
        from shipyard_sandbox.lambdas import bridge, runner

        self.lambdas = runner.LambdaRunner(self.state_dir, aws_endpoint=self.endpoints.aws_endpoint,
                                           credentials=bridge.role_credentials,
                                           local_addresses=self._local_addresses)
        bridge.install(self.lambdas, account_id=self.account_id, region=self.region)

    def _local_addresses(self) -> Any:
        """Where the sandbox serves the load balancers' listeners and the account's ECR host,
        for the Lambda handlers' environment (`shipyard_sandbox.lambdas.addresses`)."""
        from shipyard_sandbox.lambdas.addresses import LocalAddresses

        return LocalAddresses(
            listeners=self.elb.dns_listeners() if self.elb else {},
            hosts={f"{self.account_id}.dkr.ecr.{self.region}.amazonaws.com":
                   f"127.0.0.1:{self.registry_port}"})

    def _start_ecs(self) -> None:
        """ECS's tasks run as processes of the registry's images; its services roll."""
        from shipyard_sandbox import ecs, elb

        self.ecs = ecs.start(
            self.state_dir / "ecs", account_id=self.account_id, region=self.region,
            registry_url=f"http://{self.registry.address}",
            registry_auth=(REGISTRY_USER, self.password),
            storage_dir=self.registry.root / "storage",
            registry_hosts={f"127.0.0.1:{self.registry_port}", f"localhost:{self.registry_port}",
                            f"{self.account_id}.dkr.ecr.{self.region}.amazonaws.com"},
            targets=self.targets, target_health=elb.target_health)

    def _start_codedeploy(self) -> None:
        """CodeDeploy's ECS blue/green deployments run on the sandbox's own ECS, load
        balancer, Lambda and alarms, through their APIs as on AWS."""
        import boto3

        from shipyard_sandbox.codedeploy import api, environment

        session = boto3.Session(aws_access_key_id=SANDBOX_KEY, aws_secret_access_key=SANDBOX_KEY,
                                region_name=self.region)
        clients: dict[str, object] = {}
        lock = threading.Lock()  # a Session is not thread-safe; the clients it makes are

        def client(service: str) -> object:
            with lock:
                if service not in clients:
                    clients[service] = session.client(service,
                                                      endpoint_url=self.endpoints.aws_endpoint)
                return clients[service]

        self.codedeploy = api.CodeDeployBridge(environment.SandboxEnvironment(
            client, task_set_health=self.ecs.task_set_health,
            invoke=environment.lambda_invoker()))
        api.install(self.codedeploy)

    def _warm_up(self) -> None:
        """moto spends about half a second on its first error response (it builds its error
        rendering then); pay that here, at start, rather than in the first command."""
        import boto3

        ecr = boto3.client("ecr", region_name=self.region,
                           endpoint_url=self.endpoints.aws_endpoint,
                           aws_access_key_id=SANDBOX_KEY, aws_secret_access_key=SANDBOX_KEY)
        with contextlib.suppress(ecr.exceptions.RepositoryNotFoundException):
            ecr.describe_repositories(repositoryNames=["shipyard-sandbox-warm-up"])

    def stop(self) -> None:
        if self.codedeploy:  # first: a deployment in progress acts on ECS and the listeners
            self.codedeploy.stop_all()
        if self.ecs:  # then its tasks' processes, forwarders and scheduler
            self.ecs.stop()
        if self.lambdas:  # before moto: a handler still running may be talking to it
            self.lambdas.stop()
        if self.elb:  # its listener ports close before moto goes
            self.elb.stop()
        if self.alarms:
            self.alarms.stop()
        if self.moto:
            self.moto.stop()
        if self.front:
            self.front.shutdown()
            self.front.server_close()
        self.registry.stop()

    def _delete(self, auth: str, repo: str, digest: str) -> None:
        response = httpx.delete(f"http://{self.registry.address}/v2/{repo}/manifests/{digest}",
                                headers={"Authorization": auth}, timeout=30)
        if response.status_code not in (202, 404):
            raise RuntimeError(
                f"registry refused to delete {repo}@{digest}: {response.status_code}")

    @staticmethod
    def _layers(storage: Path, digest: str) -> Iterator[IO[bytes]]:
        """The image's layer blobs, read from the registry's own storage, in order."""
        def blob(d: str) -> Path:
            hex_digest = d.split(":", 1)[1]
            blobs = storage / "docker/registry/v2/blobs/sha256"
            return blobs / hex_digest[:2] / hex_digest / "data"

        manifest = json.loads(blob(digest).read_bytes())
        for layer in manifest.get("layers", []):
            with blob(layer["digest"]).open("rb") as handle:
                yield handle
