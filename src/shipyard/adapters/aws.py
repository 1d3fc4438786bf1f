"""AWS clients (botocore), and the one table that turns AWS errors into ours.

Endpoints come from the standard `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` variables,
which botocore reads itself, so the sandbox, LocalStack and real AWS are one code path.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import botocore.config
import botocore.exceptions
import botocore.parsers
import botocore.session

from shipyard.call_log import watch_aws_client
from shipyard.errors import (
    AuthError,
    AwsError,
    ConflictError,
    NotFoundError,
    ShipyardError,
    UsageError,
)

T = TypeVar("T")

# "standard" retries throttling and transient errors with backoff; LimitExceeded on
# StartImageScan is not transient (one scan a day) and is handled by its caller instead.
_CLIENT_CONFIG = botocore.config.Config(retries={"mode": "standard", "max_attempts": 5},
                                        user_agent_extra="shipyard")

# AWS error code -> (our error class, the fix to suggest). Codes not listed become AwsError.
_ERROR_TABLE: Mapping[str, tuple[type[ShipyardError], str]] = {
    "UnrecognizedClientException": (AuthError, "check AWS_ACCESS_KEY_ID and the secret key"),
    "InvalidClientTokenId": (AuthError, "check AWS_ACCESS_KEY_ID or the assumed role"),
    "SignatureDoesNotMatch": (AuthError, "check AWS_SECRET_ACCESS_KEY"),
    "ExpiredToken": (AuthError, "refresh the session credentials"),
    "ExpiredTokenException": (AuthError, "refresh the session credentials"),
    "AccessDenied": (AuthError, "grant the deploy role this permission"),
    "AccessDeniedException": (AuthError, "grant the deploy role this permission"),
    "RepositoryNotFoundException": (NotFoundError, "create it, or check ECR_REPOSITORY"),
    "ImageNotFoundException": (NotFoundError, "check the image tag or digest"),
    "ClusterNotFoundException": (NotFoundError, "create the cluster, or check its name"),
    "ServiceNotFoundException": (NotFoundError, "create the service, or check its name"),
    "ResourceNotFoundException": (NotFoundError, "create it, or check its name"),
    "NotFoundException": (NotFoundError, "check the KMS key id, ARN or alias"),
    "RepositoryAlreadyExistsException": (ConflictError, "it exists already; use it"),
    "ImageTagAlreadyExistsException": (ConflictError, "the tag is immutable; use another version"),
    "InvalidParameterException": (UsageError, "check the value named in the message"),
    "ValidationException": (UsageError, "check the value named in the message"),
}


# Failures to reach the endpoint at all: the network or AWS_ENDPOINT_URL, never the input.
_UNREACHABLE = (botocore.exceptions.EndpointConnectionError,
                botocore.exceptions.ConnectTimeoutError, botocore.exceptions.ReadTimeoutError)


class NotAnAwsAnswer(botocore.exceptions.BotoCoreError):
    """A successful HTTP answer that is not AWS's (a web server, a proxy's page, a captive
    portal at AWS_ENDPOINT_URL): botocore would parse it into an empty result."""

    fmt = "{endpoint} answered, but not as AWS does"


def _refuse_foreign_answers(client: Any) -> Any:
    """Check every successful answer looks like the service's protocol before botocore
    parses it; a web server's page would otherwise become a result without its fields."""
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is None:
        return client
    endpoint = getattr(client.meta, "endpoint_url", "the endpoint")

    def check(operation_model: Any, response_dict: Mapping[str, Any], **_: object) -> None:
        if response_dict.get("status_code", 500) >= 300 or operation_model.has_streaming_output:
            return  # an error answer is parsed as an error and translated by code
        body = response_dict.get("body") or b""
        head = body.lstrip()[:15].lower() if isinstance(body, bytes) else b""
        # The protocol the client speaks: a service that lists several (CodeDeploy and
        # CloudWatch list smithy-rpc-v2-cbor first) is spoken to in the first botocore supports.
        service = operation_model.service_model
        protocol = getattr(service, "resolved_protocol", None) or service.protocol
        json_answer = protocol in ("json", "rest-json")
        if head.startswith((b"<!doctype html", b"<html")) or (
                head and json_answer and not head.startswith(b"{")) or (
                head and not json_answer and not head.startswith(b"<")):
            raise NotAnAwsAnswer(endpoint=endpoint)

    def check_parsed(http_response: Any, parsed: Mapping[str, Any], model: Any,
                     **_: object) -> None:
        # A JSON API that is not AWS (`{}` or `{"ok": true}`) parses cleanly into a result
        # holding none of the operation's fields; AWS always sends some of them.
        shape = model.output_shape
        if (getattr(http_response, "status_code", 500) < 300 and shape is not None
                and shape.members and not model.has_streaming_output
                and not set(parsed) & set(shape.members)):
            raise NotAnAwsAnswer(endpoint=endpoint)

    events.register("before-parse", check)
    events.register("after-call", check_parsed)
    return client


class Aws:
    """Makes AWS clients for one region; tests pass a `client_factory` of their own.

    All clients come from one botocore session: a session reads the endpoint rules and scans
    botocore's model folders once (about 50 ms), so a second client costs about 5 ms where a
    client from a new session costs the whole 50 ms again. botocore's clients are what boto3
    hands out too; importing boto3 itself would only add its resource layer and s3transfer.
    """

    def __init__(self, region: str, client_factory: Callable[..., Any] | None = None) -> None:
        self.region = region
        self._factory = client_factory
        self._clients: dict[str, Any] = {}
        self._session: Any = None
        # Creating clients from one session is not thread-safe; using them is.
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        """A client for `service`; a bad profile, region or endpoint is one clear error."""
        with self._lock:
            if service not in self._clients:
                try:
                    client = self._create(service)
                    # botocore takes `http://host:abc` and fails in urllib3 at the first call
                    # with a bare ValueError; asking for the port here makes it this one error.
                    _ = urllib.parse.urlsplit(getattr(client.meta, "endpoint_url", "") or "").port
                    self._clients[service] = _refuse_foreign_answers(
                        watch_aws_client(client, service))
                except (botocore.exceptions.BotoCoreError, ValueError) as exc:
                    raise translate(f"{service} client", exc) from exc
            return self._clients[service]

    def _create(self, service: str) -> Any:
        if self._factory is not None:
            return self._factory(service, region_name=self.region, config=_CLIENT_CONFIG)
        if self._session is None:
            self._session = botocore.session.get_session()
        return self._session.create_client(service, region_name=self.region,
                                           config=_CLIENT_CONFIG)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return exc.response.get("Error", {}).get("Code", "")
    return ""


def translate(operation: str, exc: Exception) -> ShipyardError:
    """The Shipyard error for an AWS failure: one line naming the call, the cause and the fix."""
    if isinstance(exc, botocore.exceptions.ClientError):
        code = error_code(exc)
        message = _one_line(exc.response.get("Error", {}).get("Message", "") or code)
        cls, fix = _ERROR_TABLE.get(code, (AwsError, "see the AWS message"))
        return cls(f"{operation} failed: {code}: {message}; {fix}")
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return AuthError(f"{operation}: no AWS credentials found; set AWS_ACCESS_KEY_ID and "
                         "AWS_SECRET_ACCESS_KEY, a profile, or a role (for the local sandbox: "
                         'eval "$(shipyard sandbox env)")')
    if isinstance(exc, _UNREACHABLE):
        return AwsError(f"{operation}: cannot reach {exc.kwargs.get('endpoint_url', 'AWS')}; "
                        "check AWS_ENDPOINT_URL and the network (is the sandbox up? "
                        "shipyard sandbox up)")
    if isinstance(exc, botocore.parsers.ResponseParserError):
        # An answer botocore cannot read as the service's error or result (an empty 404 of
        # a web server, a registry): whatever answers there is not AWS.
        return AwsError(f"{operation}: the endpoint answered, but not as AWS does; check "
                        "AWS_ENDPOINT_URL (it must be an AWS endpoint, or the sandbox's: "
                        "eval \"$(shipyard sandbox env)\")")
    if isinstance(exc, NotAnAwsAnswer):
        return AwsError(f"{operation}: {exc}; check AWS_ENDPOINT_URL (it must be an AWS "
                        "endpoint, or the sandbox's: eval \"$(shipyard sandbox env)\")")
    if isinstance(exc, botocore.exceptions.ProfileNotFound | botocore.exceptions.NoRegionError):
        return AuthError(f"{operation}: {exc}; check AWS_PROFILE and AWS_REGION")
    return AwsError(f"{operation} failed: {_one_line(str(exc))}; check AWS_ENDPOINT_URL, "
                    "AWS_REGION and the credentials")


def _one_line(message: str) -> str:
    """AWS messages on one line, without the canonical request some signature errors append
    (it can hold a session token)."""
    message = message.split("The Canonical String", 1)[0]
    return " ".join(message.split())


@contextmanager
def translated(operation: str) -> Iterator[None]:
    """Run AWS calls, turning their failures into one-line Shipyard errors."""
    try:
        yield
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError,
            botocore.parsers.ResponseParserError) as exc:
        raise translate(operation, exc) from exc


def call(operation: str, fn: Callable[[], T], *, absent: Collection[str] = ()) -> T | None:
    """Run one AWS call; None when it fails with an error code listed in `absent`.

    >>> call("ecr:DescribeRepositories", lambda: 1)
    1
    """
    try:
        return fn()
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in absent:
            return None
        raise translate(operation, exc) from exc
    except (botocore.exceptions.BotoCoreError, botocore.parsers.ResponseParserError) as exc:
        raise translate(operation, exc) from exc
