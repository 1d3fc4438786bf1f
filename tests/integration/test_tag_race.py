"""Two pipelines push different images under one version tag of a mutable repository at once.

The distribution API has no compare-and-swap on tags; the client checks the version tag right
before its PUT and reads it back after, so at most one push succeeds, the other fails with a
ConflictError (exit 6), and the tag ends on the winner's image: never a silent swap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.adapters.oci_layout import OciLayout
from shipyard.adapters.registry import RegistryClient
from shipyard.errors import ConflictError

pytestmark = pytest.mark.integration

ROUNDS = 10
ROUND_SECONDS = 60  # a round is two small pushes on loopback; this only stops a hang


def _race(host: str, repository: str, layouts: list[OciLayout]) -> list[object]:
    """Push each layout from its own thread and client, released together; each outcome is
    the PushReport or the exception raised."""
    start = threading.Barrier(len(layouts))
    outcomes: list[object] = [None] * len(layouts)

    def push(index: int) -> None:
        with RegistryClient(host) as client:
            start.wait(timeout=ROUND_SECONDS)
            try:
                outcomes[index] = client.push_layout(layouts[index], repository,
                                                     ["1.0.0", "latest"],
                                                     unique_tags=["1.0.0"])
            except Exception as exc:  # the outcome under test
                outcomes[index] = exc

    threads = [threading.Thread(target=push, args=(i,), daemon=True)
               for i in range(len(layouts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=ROUND_SECONDS)
        assert not thread.is_alive(), f"a push to {repository} did not end in {ROUND_SECONDS}s"
    return outcomes


def test_racing_pushes_of_one_version_never_both_win(
        registry_server, oci_layout_factory: Callable[..., Path]) -> None:
    conflicts = 0
    for round_number in range(ROUNDS):
        repository = f"race/round-{round_number}"
        layouts = [OciLayout.open(oci_layout_factory()) for _ in range(2)]
        outcomes = _race(registry_server.host, repository, layouts)
        winners = [layout for layout, outcome in zip(layouts, outcomes, strict=True)
                   if not isinstance(outcome, BaseException)]
        losers = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        assert len(winners) == 1, f"round {round_number}: {outcomes}"
        assert all(isinstance(loser, ConflictError) and loser.exit_code == 6
                   for loser in losers), losers
        assert "1.0.0" in str(losers[0])
        conflicts += 1
        with RegistryClient(registry_server.host) as reader:
            # the tag is on the winner's image; the loser never moved `latest`
            assert reader.manifest_digest(repository, "1.0.0") == winners[0].digest
            assert reader.manifest_digest(repository, "latest") == winners[0].digest
    assert conflicts == ROUNDS
