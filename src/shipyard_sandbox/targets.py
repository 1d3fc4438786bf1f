"""Where a load balancer reaches a target: the link between the sandbox's ECS and its ELB.

On AWS a task in `awsvpc` mode has an ENI with a private IP, and the target group holds
(IP, port). The sandbox never gives anything an address off 127.0.0.0/8 and a task's network
namespace has only loopback, so:
- each task is reported with a private IP taken from 127.100.0.0/16 (`allocate_task_ip`):
  an honest API shape, an address nothing listens on and nothing is ever sent to;
- ECS registers, for each container port it exposes, the Unix socket of the task's forwarder
  (`runtime.forwarder`) under (that IP, port) here;
- the load balancer looks the target up here and connects to the socket.

One directory per sandbox process; thread-safe.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass
from pathlib import Path

TASK_NETWORK = ipaddress.ip_network("127.100.0.0/16")


@dataclass(frozen=True)
class Endpoint:
    """How to reach one container port of one task: its forwarder's Unix socket."""

    socket_path: Path
    task_arn: str
    container_name: str


class TargetDirectory:
    """(IP, port) of a target, as a target group names it, to the endpoint that reaches it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._endpoints: dict[tuple[str, int], Endpoint] = {}
        self._next_host = 1

    def allocate_task_ip(self) -> str:
        """A fresh address in 127.100.0.0/16 for a task's reported ENI (never bound)."""
        with self._lock:
            if self._next_host >= TASK_NETWORK.num_addresses - 1:
                raise RuntimeError("the sandbox ran out of task addresses (65534 tasks)")
            address = str(TASK_NETWORK[self._next_host])
            self._next_host += 1
            return address

    def register(self, ip: str, port: int, endpoint: Endpoint) -> None:
        with self._lock:
            self._endpoints[(ip, port)] = endpoint

    def unregister(self, ip: str, port: int) -> None:
        with self._lock:
            self._endpoints.pop((ip, port), None)

    def lookup(self, ip: str, port: int) -> Endpoint | None:
        with self._lock:
            return self._endpoints.get((ip, port))
