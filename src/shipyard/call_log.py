"""`--verbose`: one line per AWS and registry call on stderr, every line through one mask.

Loggers: `shipyard`, with `shipyard.aws` (each HTTP attempt of a boto3 client) and
`shipyard.registry` (each registry request, and each retry). A verbose run prints::

    aws ecr.GetAuthorizationToken 200 14ms (POST http://127.0.0.1:4566/)
    registry GET http://127.0.0.1:5000/v2/ 401 2ms
    registry PUT http://127.0.0.1:5000/v2/gamepulse/manifests/1.2.0 201 9ms

`enable_verbose` puts its handler on the root logger, so that botocore, urllib3 and httpx
records, should their loggers be turned to DEBUG, go through the same `RedactingFilter` as
ours; it also adds the filter to handlers already there (a `basicConfig`, pytest's).
Nothing here imports botocore or httpx: the CLI imports this module only for `--verbose`,
and the adapters only hand their clients and requests to it.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

from shipyard.redaction import RedactingFilter, register_secret, safe_url

LOG = logging.getLogger("shipyard")
AWS_LOG = logging.getLogger("shipyard.aws")
REGISTRY_LOG = logging.getLogger("shipyard.registry")

# Loggers of the libraries under us, whose own handlers (if any) get our filter too.
THIRD_PARTY_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3", "httpx", "httpcore")
ENVIRONMENT_SECRETS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
_FILTER = RedactingFilter()
_CONTEXT_KEY = "shipyard_call"  # where a boto3 request's start is kept until its answer
_handler: logging.Handler | None = None


class _Formatter(logging.Formatter):
    """`aws …` and `registry …` for our lines; the logger's name for a library's."""

    def format(self, record: logging.LogRecord) -> str:
        name = record.name
        if name.startswith("shipyard."):
            name = name.rsplit(".", 1)[-1]
        return f"{name} {super().format(record)}"


def enable_verbose(stream: TextIO | None = None) -> None:
    """Print each call on `stream` (stderr): our DEBUG lines, masked; idempotent."""
    global _handler
    disable_verbose()
    register_environment_secrets(os.environ)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(_Formatter())
    handler.addFilter(_FILTER)
    logging.getLogger().addHandler(handler)
    protect_handlers()
    LOG.setLevel(logging.DEBUG)
    _handler = handler


def disable_verbose() -> None:
    """Remove the verbose handler again (a process that runs several commands, a test)."""
    global _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler = None
    LOG.setLevel(logging.NOTSET)


def protect_handlers() -> None:
    """Add the mask to every handler on the root logger and on the libraries' loggers."""
    for name in ("", *THIRD_PARTY_LOGGERS):
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(_FILTER)  # a no-op when it is there already


def register_environment_secrets(env: Mapping[str, str]) -> None:
    for name in ENVIRONMENT_SECRETS:
        register_secret(env.get(name))


def _elapsed(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.0f}ms"


# --- registry calls --------------------------------------------------------------------------


class RegistryCall:
    """What one registry request got: a status, or (if it raised) the exception's name."""

    def __init__(self) -> None:
        self.outcome = ""

    def answered(self, status: int) -> None:
        self.outcome = str(status)


@contextmanager
def registry_call(method: str, url: object, params: object = None) -> Iterator[RegistryCall]:
    """Log `registry METHOD URL STATUS TIME` when the block ends, raised or not."""
    call = RegistryCall()
    if not REGISTRY_LOG.isEnabledFor(logging.DEBUG):
        yield call
        return
    started = time.perf_counter()
    try:
        yield call
    except BaseException as exc:
        call.outcome = call.outcome or type(exc).__name__
        raise
    finally:
        REGISTRY_LOG.debug("%s %s %s %s", method, safe_url(str(url), params),
                           call.outcome or "no answer", _elapsed(started))


# --- AWS calls (botocore events) ------------------------------------------------------------


def watch_aws_client(client: Any, service: str) -> Any:
    """Log each HTTP attempt of a boto3 client as `aws service.Operation STATUS TIME`.

    botocore emits `request-created` per attempt (after signing, as the signer registered
    first) and `response-received` with the answer or the exception; a retried call shows
    one line per attempt. Returns the client; one without `meta.events` (a test's fake) is
    returned as it is.
    """
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is None:
        return client

    def answered(context: dict[str, Any], response_dict: dict[str, Any] | None = None,
                 exception: BaseException | None = None, event_name: str = "",
                 **_: object) -> None:
        started = context.pop(_CONTEXT_KEY, None) if isinstance(context, dict) else None
        if started is None:
            return
        outcome = response_dict["status_code"] if response_dict else type(exception).__name__
        attempt = context.get("retries", {}).get("attempt", 1)
        AWS_LOG.debug("%s.%s %s %s (%s %s%s)", service, event_name.rsplit(".", 1)[-1],
                      outcome, _elapsed(started[0]), started[1], safe_url(started[2]),
                      f", attempt {attempt}" if attempt > 1 else "")

    events.register("request-created", _request_created)
    events.register("response-received", answered)
    return client


def _request_created(request: Any, **_: object) -> None:
    if not AWS_LOG.isEnabledFor(logging.DEBUG):
        return
    # Credentials from a profile or a role never pass through the environment; the session
    # token does pass through here, on every signed request.
    register_secret(request.headers.get("X-Amz-Security-Token"))
    request.context[_CONTEXT_KEY] = (time.perf_counter(), request.method, request.url)
