"""`--image` references and what their failures mean, through a context with a fake ECR."""

from __future__ import annotations

import pytest

from shipyard.errors import AuthError, AwsError, NotFoundError, ShipyardError, UsageError
from shipyard.usecases.context import Context
from shipyard.usecases.render import resolve_image
from shipyard.usecases.target import Target

DIGEST = "sha256:" + "d" * 64
TARGET = Target("ap-northeast-2", "123456789012", "127.0.0.1:5000", "gamepulse")


class FakeEcr:
    def __init__(self, failure: ShipyardError | None = None) -> None:
        self.failure = failure
        self.asked: list[tuple[str, str]] = []

    def resolve(self, repository: str, tag: str) -> str:
        self.asked.append((repository, tag))
        if self.failure:
            raise self.failure
        return DIGEST


def resolve(image: str, ecr: FakeEcr) -> str:
    ctx = Context(env={}, region="ap-northeast-2", ecr=ecr)
    return resolve_image(image, TARGET, None, ctx)[0]  # type: ignore[arg-type]


@pytest.mark.parametrize(("image", "asked"), [
    ("127.0.0.1:5000/gamepulse:1.2.3", ("gamepulse", "1.2.3")),  # full reference
    ("gamepulse:1.2.3", ("gamepulse", "1.2.3")),                 # repository and tag
    (":1.2.3", ("gamepulse", "1.2.3")),                          # the service's repository
    ("team/base:12", ("team/base", "12")),                       # a path in our registry
])
def test_tags_in_our_registry_are_resolved_to_digests(image, asked) -> None:
    ecr = FakeEcr()
    pinned = resolve(image, ecr)
    assert ecr.asked == [asked]
    assert pinned == f"127.0.0.1:5000/{asked[0]}@{DIGEST}"


@pytest.mark.parametrize(("image", "pinned"), [
    (f"@{DIGEST}", f"127.0.0.1:5000/gamepulse@{DIGEST}"),
    (f"base@{DIGEST}", f"127.0.0.1:5000/base@{DIGEST}"),
    (f"public.ecr.aws/x/otel@{DIGEST}", f"public.ecr.aws/x/otel@{DIGEST}"),
])
def test_digests_need_no_lookup(image, pinned) -> None:
    ecr = FakeEcr()
    assert resolve(image, ecr) == pinned and ecr.asked == []


@pytest.mark.parametrize(("image", "message"), [
    ("docker.io/library/nginx:1", "is not pinned by digest"),  # a tag elsewhere: cannot pin
    ("gamepulse", "names no tag or digest"),
    ("Game_Pulse:1", "not a valid repository name"),
    ("a__b:1", "not a valid repository name"),                  # ECR refuses '__'
    ("@sha256:abc", "is not a sha256 digest"),
    (":bad+tag", "not a valid tag"),
])
def test_bad_references_are_usage_errors(image, message) -> None:
    with pytest.raises(UsageError, match=message):
        resolve(image, FakeEcr())


@pytest.mark.parametrize(("failure", "kind"), [
    # the cause decides the class: only "not there" says "push it first"
    (NotFoundError("ecr:DescribeImages failed: ImageNotFoundException"), NotFoundError),
    (AuthError("ecr:DescribeImages failed: ExpiredTokenException"), AuthError),
    (AwsError("ecr:DescribeImages: cannot reach http://127.0.0.1:9"), AwsError),
])
def test_failures_keep_their_cause(failure, kind) -> None:
    with pytest.raises(kind) as raised:
        resolve(":1.2.3", FakeEcr(failure))
    assert type(raised.value) is kind
    assert ("is not in ECR" in raised.value.message) == (kind is NotFoundError)


def test_context_refuses_unknown_adapters_and_makes_the_rest_on_first_use() -> None:
    with pytest.raises(TypeError, match="unknown adapters: ecrr"):
        Context(env={}, region="r", ecrr=object())
    ctx = Context(env={}, region="eu-west-1")
    assert "ecs" not in vars(ctx)  # nothing is made until a use case asks
    assert ctx.aws.region == "eu-west-1"
