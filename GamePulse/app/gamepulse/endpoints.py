"""The endpoints: what each route does, and reading a request's JSON body.

``Endpoints`` is a mixin of ``Handler`` (``gamepulse.handler``): its methods are the handler
method names in ``ROUTES`` and answer through the handler's ``_send`` and ``_send_json``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from gamepulse import metrics as metrics_module
from gamepulse.routes import HttpError
from gamepulse.store import (
    EVENT_TYPES,
    StorageError,
    ValidationError,
    valid_match_id,
    validate_event,
)

if TYPE_CHECKING:
    from gamepulse.server import GamePulseServer

MAX_BODY = 64 * 1024


class Endpoints:
    """The endpoint methods of ``Handler``; ``server`` is the GamePulseServer it runs in."""

    server: GamePulseServer

    # -- endpoints ------------------------------------------------------------------------
    def get_health(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        self._send_json(
            200,
            {
                "status": "ok",
                "uptime_seconds": round(self.server.metrics.uptime(), 3),
                "version": self.server.config.version,
                "storage": "file" if self.server.store.data_dir else "memory",
            },
        )

    def get_version(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        config = self.server.config
        self._send_json(200, {"version": config.version, "revision": config.revision})

    def get_metrics(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        matches, stored = self.server.store.stats()
        text = self.server.metrics.render(
            matches=matches,
            stored=stored,
            version=self.server.config.version,
            revision=self.server.config.revision,
        )
        self._send(200, text.encode(), metrics_module.CONTENT_TYPE)

    def post_event(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        match_id = _match_id(params)
        payload = self._read_json()
        try:
            clean = validate_event(payload)
        except ValidationError as exc:
            self.server.metrics.observe_rejected("invalid_event")
            raise HttpError(400, "invalid_event", str(exc), exc.details) from None
        try:
            event = self.server.store.add(match_id, clean)
        except StorageError as exc:
            self.server.logger.error("storage failure", error=str(exc))
            raise HttpError(
                503, "storage_unavailable", "the event could not be stored; retry later"
            ) from None
        self.server.metrics.observe_event(event["type"])
        self._send_json(201, event)

    def list_events(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        match_id = _match_id(params)
        player = _single(query, "player_id")
        kind = _single(query, "type")
        if kind is not None and kind not in EVENT_TYPES:
            raise HttpError(
                400, "invalid_query", f"type must be one of {', '.join(EVENT_TYPES)}; got {kind!r}"
            )
        events = self.server.store.events(match_id, player_id=player, kind=kind)
        self._send_json(200, {"match_id": match_id, "count": len(events), "events": events})

    def get_summary(self, params: dict[str, str], query: dict[str, list[str]]) -> None:
        self._send_json(200, self.server.store.summary(_match_id(params)))

    # -- request bodies -------------------------------------------------------------------
    def _read_json(self) -> Any:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True  # the chunks would be read as the next request
            raise HttpError(
                411, "length_required", "chunked bodies are not accepted; send Content-Length"
            )
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            self.close_connection = True
            raise HttpError(411, "length_required", "a JSON body with Content-Length is required")
        try:
            length = int(raw_length)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise HttpError(
                400, "invalid_content_length", f"bad Content-Length {raw_length!r}"
            ) from None
        if length > MAX_BODY:
            self.server.metrics.observe_rejected("too_large")
            raise HttpError(
                413,
                "payload_too_large",
                f"body is {length} bytes; the limit is {MAX_BODY} bytes (64 KiB)",
            )
        data = self.rfile.read(length)
        self._body_read = True
        if len(data) != length:
            self.close_connection = True
            raise HttpError(400, "incomplete_body", "the body ended before Content-Length bytes")
        try:
            return json.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            self.server.metrics.observe_rejected("invalid_json")
            raise HttpError(400, "invalid_json", "body is not UTF-8 text") from None
        except ValueError as exc:
            self.server.metrics.observe_rejected("invalid_json")
            raise HttpError(400, "invalid_json", f"body is not valid JSON: {exc}") from None


def _match_id(params: dict[str, str]) -> str:
    match_id = params["match_id"]
    if not valid_match_id(match_id):
        raise HttpError(
            400,
            "invalid_match_id",
            f"match_id {match_id[:80]!r} is invalid: use 1-64 letters, digits, '_', '.', ':' "
            "or '-', starting with a letter or digit",
        )
    return match_id


def _single(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise HttpError(400, "invalid_query", f"give {name} at most once")
    return values[0]
