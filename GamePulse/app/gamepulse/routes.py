"""The API's URL table: which path and method go to which ``Handler`` method, and
``HttpError``, which an endpoint raises to answer with a JSON error."""

from __future__ import annotations

import re
from urllib.parse import unquote

_MATCH = r"/v1/matches/(?P<match_id>[^/]+)"


class Route:
    def __init__(self, template: str, pattern: str, methods: dict[str, str]) -> None:
        self.template = template
        self.regex = re.compile(pattern)
        self.methods = methods  # HTTP method -> handler method name

    def allowed(self) -> list[str]:
        names = set(self.methods)
        if "GET" in names:
            names.add("HEAD")
        return sorted(names)


ROUTES = [
    Route("/health", r"/health", {"GET": "get_health"}),
    Route("/version", r"/version", {"GET": "get_version"}),
    Route("/metrics", r"/metrics", {"GET": "get_metrics"}),
    Route(
        "/v1/matches/{match_id}/events",
        _MATCH + r"/events",
        {"GET": "list_events", "POST": "post_event"},
    ),
    Route("/v1/matches/{match_id}/summary", _MATCH + r"/summary", {"GET": "get_summary"}),
]


class HttpError(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def match_route(path: str) -> tuple[Route | None, dict[str, str]]:
    for route in ROUTES:
        found = route.regex.fullmatch(path)
        if found:
            return route, {k: unquote(v) for k, v in found.groupdict().items()}
    return None, {}
