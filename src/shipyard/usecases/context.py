"""What a use case sees of the outside world, built once at the edge and handed in.

Use cases never build their adapters: the CLI builds one `Context` per command run and every
use case takes it. A test builds its own, handing in fakes (an `Ecr` over a stubbed client, a
registry factory over httpx's `MockTransport`, a clock and a sleep that move time by hand), so
a ten-minute wait runs in milliseconds and no use case needs the whole CLI to be tested.

Adapters are made on first use, from one `Aws` for the command's region: a command that
never talks to ECS never pays for an ECS client.

>>> ctx = Context(env={}, region="ap-northeast-2", sleep=lambda seconds: None)
>>> ctx.aws.region
'ap-northeast-2'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shipyard.adapters.aws import Aws
    from shipyard.adapters.builders import Builder
    from shipyard.adapters.cloudwatch import CloudWatchMetrics
    from shipyard.adapters.codedeploy import CodeDeploy
    from shipyard.adapters.ecr import Ecr
    from shipyard.adapters.ecs import Ecs
    from shipyard.adapters.efs import Efs
    from shipyard.adapters.elbv2 import Elbv2
    from shipyard.adapters.git import Git
    from shipyard.adapters.github import ActionsContext
    from shipyard.adapters.iam import Iam
    from shipyard.adapters.kms import Kms
    from shipyard.adapters.logs import CloudWatchLogs
    from shipyard.adapters.registry import ProgressCallback, RegistryClient
    from shipyard.adapters.secretsmanager import SecretsManager
    from shipyard.adapters.sns import Sns
    from shipyard.adapters.ssm import ParameterStore
    from shipyard.adapters.sts import Sts
    from shipyard.adapters.webhook import Webhook

# The adapters a test may hand in instead of the ones made from `aws`.
ADAPTERS = ("codedeploy", "ecr", "ecs", "efs", "elbv2", "iam", "kms", "logs", "secrets",
            "parameters", "sts", "sns", "metrics", "webhook")


def utc_today() -> date:
    return datetime.now(UTC).date()


class Context:
    """The environment, git, the AWS adapters, the registry, the builder, and time."""

    def __init__(self, *, env: Mapping[str, str], region: str, git: Git | None = None,
                 actions: ActionsContext | None = None, aws: Aws | None = None,
                 builder: Builder | None = None, progress: ProgressCallback | None = None,
                 registry_factory: Callable[..., RegistryClient] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 today: Callable[[], date] = utc_today, **adapters: Any) -> None:
        unknown = set(adapters) - set(ADAPTERS)
        if unknown:
            raise TypeError(f"Context got unknown adapters: {', '.join(sorted(unknown))}")
        self.env = env
        self.region = region
        self._git = git
        self.actions = actions
        self.builder = builder
        self.progress = progress
        self._registry_factory = registry_factory
        self.clock, self.sleep, self.today = clock, sleep, today
        if aws is not None:
            self.__dict__["aws"] = aws
        # cached_property reads the instance dict first: a given adapter replaces the default.
        self.__dict__.update(adapters)

    def with_env(self, env: Mapping[str, str]) -> Context:
        """The same context with another environment (the demo adds the base image to it)."""
        twin = object.__new__(Context)
        twin.__dict__.update(self.__dict__)
        twin.env = env
        return twin

    @property
    def git(self) -> Git:
        if self._git is None:
            raise TypeError("this use case needs git, and the context was built without it")
        return self._git

    def registry(self, host: str, **options: Any) -> RegistryClient:
        """A registry client for `host` (`auth=`, `progress=` as RegistryClient takes them).

        Shipyard's registries are ECR and the sandbox standing in for it, which take Basic
        auth with the GetAuthorizationToken password: it goes with the first request instead
        of after a 401, one round trip sooner.
        """
        options.setdefault("basic_first", True)
        if self._registry_factory is not None:
            return self._registry_factory(host, **options)
        from shipyard.adapters.registry import RegistryClient

        return RegistryClient(host, **options)

    @cached_property
    def aws(self) -> Aws:
        from shipyard.adapters.aws import Aws  # boto3 is imported only by commands that use it

        return Aws(self.region)

    @cached_property
    def codedeploy(self) -> CodeDeploy:
        from shipyard.adapters.codedeploy import CodeDeploy

        return CodeDeploy(self.aws)

    @cached_property
    def ecr(self) -> Ecr:
        from shipyard.adapters.ecr import Ecr

        return Ecr(self.aws)

    @cached_property
    def ecs(self) -> Ecs:
        from shipyard.adapters.ecs import Ecs

        return Ecs(self.aws)

    @cached_property
    def efs(self) -> Efs:
        from shipyard.adapters.efs import Efs

        return Efs(self.aws)

    @cached_property
    def elbv2(self) -> Elbv2:
        from shipyard.adapters.elbv2 import Elbv2

        return Elbv2(self.aws)

    @cached_property
    def iam(self) -> Iam:
        from shipyard.adapters.iam import Iam

        return Iam(self.aws)

    @cached_property
    def kms(self) -> Kms:
        from shipyard.adapters.kms import Kms

        return Kms(self.aws)

    @cached_property
    def logs(self) -> CloudWatchLogs:
        from shipyard.adapters.logs import CloudWatchLogs

        return CloudWatchLogs(self.aws)

    @cached_property
    def secrets(self) -> SecretsManager:
        from shipyard.adapters.secretsmanager import SecretsManager

        return SecretsManager(self.aws)

    @cached_property
    def parameters(self) -> ParameterStore:
        from shipyard.adapters.ssm import ParameterStore

        return ParameterStore(self.aws)

    @cached_property
    def sts(self) -> Sts:
        from shipyard.adapters.sts import Sts

        return Sts(self.aws)

    @cached_property
    def sns(self) -> Sns:
        from shipyard.adapters.sns import Sns

        return Sns(self.aws)

    @cached_property
    def metrics(self) -> CloudWatchMetrics:
        from shipyard.adapters.cloudwatch import CloudWatchMetrics

        return CloudWatchMetrics(self.aws)

    @cached_property
    def webhook(self) -> Webhook:
        from shipyard.adapters.webhook import Webhook  # httpx, only when a webhook is posted to

        return Webhook()
