"""`shipyard demo`: the GamePulse release pipeline, step by step, on the local sandbox.

The pipeline grows as capabilities land; today it decides the release version and the image
tag plan for the current checkout.
"""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.adapters.git import Git
from shipyard.adapters.github import ActionsContext
from shipyard.config import Config
from shipyard.usecases.tags import TagsOptions, TagsResult, plan_image_tags


@dataclass(frozen=True)
class DemoResult:
    """What each pipeline step produced."""

    tags: TagsResult

    def to_json(self) -> dict:
        return {"version": self.tags.version.to_json(), "tag_plan": self.tags.to_json()}


def run_demo(config: Config, git: Git, actions: ActionsContext | None) -> DemoResult:
    """Run the pipeline steps that exist so far, in order."""
    return DemoResult(tags=plan_image_tags(TagsOptions(), config, git, actions))
