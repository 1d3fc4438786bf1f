"""HTTP requests with a timeout each and a bounded number of tries (standard library only)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RETRY_STATUSES = (502, 503, 504)  # the load balancer's answers while targets settle
TRIES = 3
PAUSE = 2.0  # seconds between two tries


@dataclass(frozen=True)
class Answer:
    status: int  # 0 when no HTTP answer came (refused, timed out)
    body: bytes
    error: str = ""

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def describe(self) -> str:
        return self.error if self.status == 0 else f"HTTP {self.status}"


class Http:
    """Requests to one base URL; `deadline` (monotonic seconds) ends retrying early."""

    def __init__(self, base_url: str, *, timeout: float, deadline: float,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.deadline = deadline
        self.sleep = sleep
        self.clock = clock

    def request(self, method: str, path: str, body: Any = None) -> Answer:
        answer = Answer(0, b"", f"{path} not asked: the hook's time is up")
        for attempt in range(TRIES):
            if self.clock() + (PAUSE if attempt else 0) + self.timeout > self.deadline:
                break  # the answer could come after the deadline: leave time to report
            if attempt:
                self.sleep(PAUSE)
            answer = self._once(method, path, body)
            if answer.status not in (0, *RETRY_STATUSES):
                break
        return answer

    def _once(self, method: str, path: str, body: Any) -> Answer:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method,
            headers={"Content-Type": "application/json", "User-Agent": "gamepulse-hooks"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return Answer(response.status, response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.read())
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            return Answer(0, b"", f"no answer from {self.base_url}{path}: {reason}")
