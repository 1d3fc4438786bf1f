"""`shipyard diff ENV`: what would change against the task definition the service runs now.

Both sides are put in one canonical form first (fields only DescribeTaskDefinition returns
dropped, empty values and ECS's defaults removed, lists ECS keeps in any order sorted), so the
diff shows real changes only.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from shipyard.config import Config
from shipyard.domain.taskdef import normalized
from shipyard.errors import NotFoundError
from shipyard.usecases.context import Context
from shipyard.usecases.render import RenderResult, render_environment


@dataclass(frozen=True)
class DiffResult:
    render: RenderResult
    running: str  # the task definition ARN the service runs
    diff: str  # unified diff, "" when equal

    @property
    def changed(self) -> bool:
        return bool(self.diff)

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.render.environment, "running": self.running,
                "rendered": str(self.render.template), "image": self.render.image,
                "changed": self.changed, "diff": self.diff}


def diff_environment(name: str, image: str | None, config: Config, ctx: Context
                     ) -> DiffResult:
    """Render ENV and diff it against the service's current task definition."""
    rendered = render_environment(name, image, config, ctx)
    settings = config.environment(name)
    ecs = ctx.ecs
    service = ecs.service(settings.cluster, settings.service)
    if service is None:
        raise NotFoundError(f"service {settings.service} is not in cluster {settings.cluster}; "
                         "there is nothing to diff against until it exists")
    running = service["taskDefinition"]
    diff = definition_diff(running, ecs.task_definition(running), rendered.definition,
                           str(rendered.template))
    return DiffResult(rendered, running, diff)


def definition_diff(running: str, current: dict[str, Any], rendered: dict[str, Any],
                    template: str) -> str:
    """The unified diff of the running definition and a rendered one, in canonical form
    ("" when they are equal)."""
    before = _lines(normalized(current))
    after = _lines(normalized(rendered))
    return "".join(difflib.unified_diff(before, after, fromfile=running, tofile=template))


def _lines(definition: dict[str, Any]) -> list[str]:
    return [line + "\n" for line in json.dumps(definition, indent=2, sort_keys=True).split("\n")]
