"""The HTTP checks of GamePulse through a listener: AfterAllowTestTraffic and AfterAllowTraffic.

Both post one event to a match of their own (`codedeploy-<deployment>-<random>`, so a
deployment's checks never touch players' matches) and read it back. Each task keeps the events
it received in memory (GamePulse's store), so a read may reach a task that did not store the
event: the read is repeated, a bounded number of times, until one answer holds it.
"""

from __future__ import annotations

import secrets

from gamepulse_hooks.checks import Findings
from gamepulse_hooks.http import Http

READS = 8  # reads of the match's events before the posted event counts as lost
VERSION_READS = 5  # /version answers that must all be the new version (production)


def _matches(expected: list[str], served: object) -> bool:
    """Tags cannot hold semver's `+`, so Shipyard writes it `-` in the tag: read it alike."""
    return isinstance(served, str) and (served in expected or
                                        served.replace("+", "-") in expected)


def _version_line(expected: list[str], served: object) -> str:
    return (f"/version answers {served!r}, "
            f"{'the version being deployed' if _matches(expected, served) else 'expected'} "
            f"{' or '.join(expected)}")


def check_health(http: Http, findings: Findings) -> None:
    answer = http.request("GET", "/health")
    findings.check(answer.status == 200, f"/health answers {answer.describe()}")


def check_version(http: Http, expected: list[str], findings: Findings, reads: int = 1) -> None:
    for _ in range(reads):
        answer = http.request("GET", "/version")
        served = (answer.json() or {}).get("version") if answer.status == 200 else None
        if answer.status != 200 or not _matches(expected, served):
            findings.fail(_version_line(expected, served) if answer.status == 200 else
                          f"/version answers {answer.describe()}")
            return
    findings.ok(_version_line(expected, served) + (f" ({reads} times)" if reads > 1 else ""))


def check_events(http: Http, deployment_id: str, findings: Findings) -> str | None:
    """Post an event and read it back; the match id when both worked."""
    match = f"codedeploy-{deployment_id}-{secrets.token_hex(3)}"
    event = {"player_id": "codedeploy-hook", "type": "score", "value": 1}
    posted = http.request("POST", f"/v1/matches/{match}/events", event)
    stored = posted.json() if posted.status == 201 else None
    if not isinstance(stored, dict) or stored.get("player_id") != event["player_id"]:
        findings.fail(f"POST /v1/matches/{match}/events answers {posted.describe()}, "
                      "not 201 with the stored event")
        return None
    findings.ok(f"POST /v1/matches/{match}/events answers 201")
    last = ""
    for _ in range(READS):
        answer = http.request("GET", f"/v1/matches/{match}/events")
        listed = answer.json() if answer.status == 200 else None
        if isinstance(listed, dict) and any(
                e.get("player_id") == event["player_id"] for e in listed.get("events") or []):
            findings.ok(f"GET /v1/matches/{match}/events returns the posted event")
            return match
        last = answer.describe() if answer.status != 200 else "HTTP 200 without the event"
    findings.fail(f"GET /v1/matches/{match}/events did not return the posted event in "
                  f"{READS} reads (last: {last})")
    return None


def check_summary(http: Http, match: str, findings: Findings) -> None:
    for _ in range(READS):
        answer = http.request("GET", f"/v1/matches/{match}/summary")
        summary = answer.json() if answer.status == 200 else None
        player = ((summary or {}).get("players") or {}).get("codedeploy-hook") \
            if isinstance(summary, dict) else None
        if isinstance(player, dict) and player.get("score") == 1:
            findings.ok(f"GET /v1/matches/{match}/summary counts the event")
            return
    findings.fail(f"GET /v1/matches/{match}/summary did not count the posted event in "
                  f"{READS} reads")


def smoke(http: Http, expected: list[str], deployment_id: str) -> Findings:
    """AfterAllowTestTraffic: the replacement, alone behind the test listener."""
    findings = Findings()
    check_health(http, findings)
    check_version(http, expected, findings)
    check_events(http, deployment_id, findings)
    return findings


def end_to_end(http: Http, expected: list[str], deployment_id: str) -> Findings:
    """AfterAllowTraffic: production traffic, all of it on the replacement now."""
    findings = Findings()
    check_health(http, findings)
    check_version(http, expected, findings, reads=VERSION_READS)
    match = check_events(http, deployment_id, findings)
    if match is not None:
        check_summary(http, match, findings)
    return findings
