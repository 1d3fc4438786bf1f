"""moto's Lambda `Invoke` answered by running the handler (`runner`) instead of docker.

`install(runner, ...)` patches moto's Invoke response in this process; `invoke(...)` is the same
thing for other sandbox parts (CodeDeploy's hooks). Only the sandbox process imports this.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from moto.awslambda import models as lambda_models
from moto.awslambda import responses as lambda_responses
from moto.awslambda.exceptions import LambdaClientError
from moto.sts.models import sts_backends
from moto.utilities.aws_headers import amz_crc32
from moto.utilities.utils import ARN_PARTITION_REGEX, get_partition

from shipyard_sandbox.lambdas.runner import (
    FunctionSnapshot,
    InvokeRefused,
    InvokeResult,
    LambdaRunner,
    code_sha256_hex,
)

PAYLOAD_LIMIT = 6_291_456  # bytes of event Lambda takes for a synchronous invocation
EVENT_PAYLOAD_LIMIT = 1_048_576  # and for an Event one (1 MB since 2025; 256 KB before)
CREDENTIALS_LIFETIME = 3600  # seconds; a role's session is renewed after this
_installed: dict[str, Any] = {}
_credentials_lock = threading.Lock()
_credentials: dict[tuple[str, str, str], tuple[float, dict[str, str]]] = {}


class InvokeError(LambdaClientError):
    def __init__(self, refused: InvokeRefused) -> None:
        super().__init__(refused.code, refused.message)
        self.code = refused.status


def snapshot(fn: Any) -> FunctionSnapshot:
    return FunctionSnapshot(
        account_id=fn.account_id, region=fn.region, name=fn.function_name,
        version=str(fn.version), arn=fn.function_arn, handler=fn.handler or "",
        runtime=fn.run_time or "", package_type=fn.package_type or "Zip",
        timeout=int(fn.timeout or 3), memory_mb=int(fn.memory_size or 128),
        environment=dict(fn.environment_vars or {}), role=fn.role,
        code=getattr(fn, "code_bytes", b"") or b"",
        code_sha256=code_sha256_hex(getattr(fn, "code_sha_256", "")))


def invoked_arn(fn: FunctionSnapshot, name_or_arn: str, qualifier: str | None) -> str:
    """The ARN the caller named: qualified when it gave a qualifier, as Lambda's context."""
    if re.match(ARN_PARTITION_REGEX, name_or_arn):
        return name_or_arn
    name, _, inline = name_or_arn.partition(":")
    base = f"arn:{get_partition(fn.region)}:lambda:{fn.region}:{fn.account_id}:function:{name}"
    qualifier = inline or qualifier
    return f"{base}:{qualifier}" if qualifier else base


def role_credentials(fn: FunctionSnapshot) -> dict[str, str]:
    """Temporary credentials of the function's role from the sandbox's STS, as Lambda gives
    a handler (session name: the function's); cached per role and function for an hour."""
    key = (fn.account_id, fn.role, fn.name)
    with _credentials_lock:
        cached = _credentials.get(key)
        if cached and time.monotonic() - cached[0] < CREDENTIALS_LIFETIME:
            return cached[1]
        backend = sts_backends[fn.account_id][get_partition(fn.region)]
        role = backend.assume_role(region_name=fn.region, role_session_name=fn.name,
                                   role_arn=fn.role, policy="", duration=CREDENTIALS_LIFETIME,
                                   external_id="")
        values = {"AWS_ACCESS_KEY_ID": role.access_key_id,
                  "AWS_SECRET_ACCESS_KEY": role.secret_access_key,
                  "AWS_SESSION_TOKEN": role.session_token}
        _credentials[key] = (time.monotonic(), values)
        return values


def _event(body: Any) -> bytes:
    """The payload as the event: JSON, or `{}` when empty; anything else is refused."""
    raw = body if isinstance(body, bytes) else (body or "").encode()
    if not raw.strip():
        return b"{}"
    try:
        json.loads(raw)
    except ValueError as error:
        raise InvokeRefused("InvalidRequestContentException", 400,
                            f"Could not parse request body into json: {error}") from None
    return raw


def dispatch(fn: Any, name_or_arn: str, qualifier: str | None, body: Any,
             invocation_type: str) -> InvokeResult:
    runner: LambdaRunner = _installed["runner"]
    event = _event(body)
    function = snapshot(fn)
    arn = invoked_arn(function, name_or_arn, qualifier)
    limit = EVENT_PAYLOAD_LIMIT if invocation_type == "Event" else PAYLOAD_LIMIT
    if len(event) > limit:
        raise InvokeRefused("RequestTooLargeException", 413,
                            f"Request must be smaller than {limit} bytes for the "
                            f"{invocation_type} invocation type")
    if invocation_type == "DryRun":
        return InvokeResult(204, executed_version=function.version)
    if invocation_type == "Event":
        return runner.submit(function, event, arn)
    if invocation_type != "RequestResponse":
        raise InvokeRefused("InvalidParameterValueException", 400,
                            f"Unsupported invocation type {invocation_type!r}")
    return runner.invoke(function, event, arn)


def invoke(function_name_or_arn: str, payload: dict, *, wait: bool = True,
           qualifier: str | None = None, account_id: str | None = None,
           region: str | None = None) -> InvokeResult:
    """Invoke a function from inside the sandbox: RequestResponse when `wait`, else Event.

    Raises moto's `UnknownFunctionException` for an unknown function and `InvokeRefused`
    for what Invoke would refuse (a runtime the sandbox cannot run, throttling)."""
    backend = lambda_models.lambda_backends[account_id or _installed["account_id"]][
        region or _installed["region"]]
    fn = backend.get_function(function_name_or_arn, qualifier)
    return dispatch(fn, function_name_or_arn, qualifier, json.dumps(payload).encode(),
                    "RequestResponse" if wait else "Event")


def _no_docker(function: object) -> object:
    raise AttributeError("the sandbox runs Lambda handlers without docker")


def install(runner: LambdaRunner, *, account_id: str, region: str) -> Callable[[], None]:
    """Patch moto so that Invoke runs handlers through `runner`; returns what undoes it (for
    a test that runs a sandbox inside its own process, where moto's classes are shared)."""
    before = (dict(_installed), lambda_responses.LambdaResponse.invoke,
              lambda_models.LambdaFunction.docker_client)

    def uninstall() -> None:
        _installed.clear()
        _installed.update(before[0])
        lambda_responses.LambdaResponse.invoke = before[1]
        lambda_models.LambdaFunction.docker_client = before[2]

    # moto's functions reach for docker through this property; nothing here runs docker, and
    # its DockerException (not an AttributeError) broke every read of moto's whole state
    # (GET /moto-api/data.json) once a function existed.
    lambda_models.LambdaFunction.docker_client = property(_no_docker)

    _installed.update(runner=runner, account_id=account_id, region=region)

    @amz_crc32
    def response_invoke(self):
        # moto reads the qualifier as `qualifier` (boto3 sends `Qualifier`), from the query
        # string or, wrongly, from the payload; Lambda takes it from the query string only.
        function_name = unquote(self.path.rsplit("/", 2)[-2])
        qualifier = (self.querystring.get("Qualifier") or [None])[0]
        kind = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        fn = self.backend.get_function(function_name, qualifier)
        try:
            result = dispatch(fn, function_name, qualifier, self.body, kind)
        except InvokeRefused as refused:
            raise InvokeError(refused) from None
        headers = {"content-type": "application/json", "status": str(result.status),
                   "x-amz-executed-version": result.executed_version}
        if result.function_error:
            headers["x-amz-function-error"] = result.function_error
        if result.status == 200 and self.headers.get("X-Amz-Log-Type") == "Tail":
            headers["x-amz-log-result"] = base64.b64encode(result.log_tail).decode()
        return result.status, headers, result.payload

    lambda_responses.LambdaResponse.invoke = response_invoke
    return uninstall
