"""Incoming webhooks (Slack's): one JSON POST to a URL that is itself the credential.

Whoever holds a Slack incoming-webhook URL can post to the channel, so the URL is handled as a
secret: registered with the redaction (the whole URL and its path, the part that holds the
token) before the first request, and never put into an error. Errors name the host alone.
One attempt, bounded by `timeout`: a notification must not hold a deployment up, and a
webhook that failed is reported, not retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from shipyard.errors import ShipyardError, UsageError
from shipyard.redaction import MASK, redact_output, register_secret

LOG = logging.getLogger("shipyard.webhook")
DEFAULT_TIMEOUT = 10.0  # seconds, for connecting and for the answer each
_BODY_SHOWN = 80  # characters of an error answer (Slack's are short: "invalid_payload")


class Webhook:
    """Posts JSON to webhook URLs; tests pass an httpx transport of their own."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.timeout = timeout
        self._transport = transport

    def post(self, url: str, payload: Mapping[str, Any], *, name: str = "webhook") -> None:
        """POST `payload`; raises a one-line ShipyardError naming `name` and the host only."""
        register_secret(url)
        parts = urlsplit(url)
        register_secret(parts.path)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"the {name} URL is not an http(s) URL; set it to the URL "
                             "Slack shows for the incoming webhook")
        host = parts.netloc.rsplit("@", 1)[-1]  # user-info would be a credential too
        started = time.perf_counter()
        outcome = "no answer"
        try:
            with httpx.Client(timeout=self.timeout, transport=self._transport,
                              follow_redirects=False) as client:
                response = client.post(url, json=dict(payload))
            outcome = str(response.status_code)
        except httpx.TimeoutException as exc:
            outcome = type(exc).__name__
            raise ShipyardError(f"{name} {host} did not answer within {self.timeout:g} s; "
                                "check that the host is reachable from here") from None
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
            raise ShipyardError(f"{name} {host} cannot be reached ({type(exc).__name__}: "
                                f"{_one_line(str(exc))}); check the URL and the network"
                                ) from None
        finally:
            LOG.debug("POST %s://%s/%s %s %.0fms", parts.scheme, host, MASK, outcome,
                      (time.perf_counter() - started) * 1000)
        if not response.is_success:
            body = _one_line(response.text)[:_BODY_SHOWN]
            raise ShipyardError(f"{name} {host} answered {response.status_code}"
                                f"{': ' + body if body else ''}; check the URL (a removed "
                                "webhook answers 404 or 410) and the payload")


def _one_line(text: str) -> str:
    # `from None` above: httpx's exceptions carry the request, and so the URL, in their
    # context; the message itself goes through the mask in case it quotes the URL.
    return " ".join(redact_output(text).split())
