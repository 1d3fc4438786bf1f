"""GamePulse's load-test scenario for Locust (`shipyard loadtest ENV` runs it headless).

Each simulated user is a game server reporting one match: it posts events for a few players,
and reads them back the way a dashboard does (the event list, the match summary), with the
load balancer's health check in the mix. Requests are named by route (`[match_id]`, not each
id), so Locust's statistics give one row per endpoint.

An answer counts as a failure when its status is not the one the API documents or its JSON
lacks what a client relies on, not only on a 5xx: a service that answers fast but wrong must
not pass a load test. The events it posts stay in the environment's store, under match ids
starting with `loadtest-`.
"""

from __future__ import annotations

import random
import uuid

from locust import HttpUser, between, task

EVENT_TYPES = ("kill", "death", "score", "join", "leave")
MATCH = "/v1/matches/[match_id]"


class MatchReporter(HttpUser):
    """One game server: a match of its own, a few players, events now and then."""

    wait_time = between(0.05, 0.25)  # seconds between tasks: a busy server, not a flood

    def on_start(self) -> None:
        self.match_id = f"loadtest-{uuid.uuid4().hex[:16]}"
        self.players = [f"player-{n}" for n in range(1, 5)]

    @task(5)
    def post_event(self) -> None:
        event = {"player_id": random.choice(self.players),
                 "type": random.choice(EVENT_TYPES), "value": random.randint(0, 100)}
        with self.client.post(f"/v1/matches/{self.match_id}/events", json=event,
                              name=f"{MATCH}/events", catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"status {response.status_code}, expected 201")
            elif _json(response).get("type") != event["type"]:
                response.failure("the stored event is not the one posted")

    @task(2)
    def list_events(self) -> None:
        with self.client.get(f"/v1/matches/{self.match_id}/events", name=f"{MATCH}/events",
                             catch_response=True) as response:
            body = _json(response)
            if response.status_code != 200:
                response.failure(f"status {response.status_code}, expected 200")
            elif body.get("match_id") != self.match_id or not isinstance(body.get("events"),
                                                                            list):
                response.failure("the answer is not this match's event list")

    @task(2)
    def summary(self) -> None:
        with self.client.get(f"/v1/matches/{self.match_id}/summary", name=f"{MATCH}/summary",
                             catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}, expected 200")
            elif _json(response).get("match_id") != self.match_id:
                response.failure("the summary is not this match's")

    @task(1)
    def health(self) -> None:
        with self.client.get("/health", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}, expected 200")
            elif _json(response).get("status") != "ok":
                response.failure("health does not say ok")


def _json(response: object) -> dict:
    """The answer's JSON object ({} when it is not one), for the checks above."""
    try:
        body = response.json()  # type: ignore[attr-defined]
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
