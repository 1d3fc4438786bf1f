"""The webhook adapter over httpx's MockTransport: one POST, errors that name the host only."""

from __future__ import annotations

import json
import logging
import secrets

import httpx
import pytest

from shipyard.adapters.webhook import Webhook
from shipyard.errors import ShipyardError, UsageError
from shipyard.redaction import RedactingFilter


def hook_url() -> str:
    return f"https://hooks.slack.invalid/services/T0/B0/{secrets.token_urlsafe(18)}"


def webhook(handler) -> tuple[Webhook, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return Webhook(timeout=2, transport=httpx.MockTransport(record)), seen


def test_posts_the_payload_once_as_json() -> None:
    url = hook_url()
    hook, seen = webhook(lambda request: httpx.Response(200, text="ok"))
    hook.post(url, {"text": "deployed"})
    assert len(seen) == 1
    assert str(seen[0].url) == url and seen[0].method == "POST"
    assert json.loads(seen[0].content) == {"text": "deployed"}
    assert seen[0].headers["content-type"] == "application/json"


@pytest.mark.parametrize(("answer", "shown"), [
    (httpx.Response(500, text="internal\nerror"), "answered 500: internal error"),
    (httpx.Response(404, text="no_service"), "answered 404: no_service"),
])
def test_an_error_answer_is_one_line_with_the_host_and_not_retried(answer, shown) -> None:
    url = hook_url()
    hook, seen = webhook(lambda request: answer)
    with pytest.raises(ShipyardError) as raised:
        hook.post(url, {"text": "x"}, name="Slack webhook")
    message = str(raised.value)
    assert message.startswith(f"Slack webhook hooks.slack.invalid {shown}; check the URL")
    assert "/services/" not in message and "\n" not in message
    assert len(seen) == 1


def test_unreachable_and_slow_hosts_are_errors_without_the_url() -> None:
    url = hook_url()

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)

    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ShipyardError) as raised:
        webhook(refuse)[0].post(url, {})
    assert str(raised.value) == ("webhook hooks.slack.invalid cannot be reached (ConnectError: "
                                 "cannot connect to ***); check the URL and the network")
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    with pytest.raises(ShipyardError) as raised:
        webhook(stall)[0].post(url, {})
    assert str(raised.value) == ("webhook hooks.slack.invalid did not answer within 2 s; "
                                 "check that the host is reachable from here")


@pytest.mark.parametrize("url", ["hooks.slack.invalid/services/T0/B0/abcdefgh",
                                 "ftp://hooks.slack.invalid/services/T0/B0/abcdefgh"])
def test_a_url_that_is_not_http_is_refused_without_showing_it(url: str) -> None:
    hook, seen = webhook(lambda request: httpx.Response(200))
    with pytest.raises(UsageError) as raised:
        hook.post(url, {}, name="Slack webhook")
    assert "abcdefgh" not in str(raised.value) and seen == []


def test_the_verbose_line_names_the_host_and_masks_the_path(caplog) -> None:
    url = hook_url()
    hook, _ = webhook(lambda request: httpx.Response(200))
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.DEBUG, logger="shipyard.webhook"):
        hook.post(url, {})
    lines = [r.getMessage() for r in caplog.records if r.name == "shipyard.webhook"]
    assert len(lines) == 1 and lines[0].startswith("POST https://hooks.slack.invalid/*** 200 ")
    assert url.rsplit("/", 1)[-1] not in caplog.text
