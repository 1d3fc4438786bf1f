"""`shipyard demo`: the GamePulse release pipeline, step by step.

It runs against whatever AWS the environment names; `shipyard demo` on the command line starts
the local sandbox first. The pipeline grows as capabilities land:

1. the release version and the image tag plan for this checkout;
2. the base image the Dockerfile builds FROM (built offline by the service's script when
   missing, then pushed to its own repository, as a team would mirror it into ECR);
3. `push --multi-arch --latest --scan`: build for linux/amd64 and linux/arm64, push the index
   with its tags, and gate on the scan of each platform image;
4. `verify` each environment with the pushed image: its task definition rendered and checked
   against ECS's model and every resource it names (the sandbox provisions them first from
   the service's CloudFormation template).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

from shipyard.adapters.oci_layout import OciLayout
from shipyard.config import Config
from shipyard.errors import BuildError
from shipyard.usecases.context import Context
from shipyard.usecases.push import PushOptions, PushResult, new_repository, push
from shipyard.usecases.scan import enforce_gate
from shipyard.usecases.tags import TagsOptions, TagsResult, plan_image_tags
from shipyard.usecases.target import resolve_target
from shipyard.usecases.verify import VerifyResult, verify_environment


@dataclass
class DemoResult:
    """What each pipeline step produced."""

    tags: TagsResult
    base_image: str | None = None
    push: PushResult | None = None
    verified: list[VerifyResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"version": self.tags.version.to_json(), "tag_plan": self.tags.to_json(),
                "base_image": self.base_image,
                "push": self.push.to_json() if self.push else None,
                "verify": [v.to_json() for v in self.verified]}


def run_demo(config: Config, ctx: Context) -> DemoResult:
    """Run the pipeline's steps in order; the first failure stops it with its own error."""
    result = DemoResult(tags=plan_image_tags(TagsOptions(), config, ctx.git, ctx.actions))
    if config.demo.base_image_layout is not None:
        result.base_image = publish_base_image(config, ctx)
        ctx = ctx.with_env({**ctx.env, config.demo.base_image_env: result.base_image})
    result.push = push(PushOptions(multi_arch=True, latest=True, scan=True), config, ctx)
    assert result.push.scan is not None  # scan=True above
    enforce_gate(result.push.scan)
    for name in config.environments:
        result.verified.append(verify_environment(name, result.push.image, config, ctx))
    return result


def publish_base_image(config: Config, ctx: Context) -> str:
    """Make sure the base image exists in the registry; returns its reference."""
    demo = config.demo
    assert demo.base_image_layout is not None
    layout_dir = config.path(demo.base_image_layout)
    if not (layout_dir / "index.json").exists():
        _build_base_layout(config, layout_dir)
    layout = OciLayout.open(layout_dir)
    target = resolve_target(config, ctx, repository=demo.base_image_repository)
    ecr = ctx.ecr
    if ecr.describe_repository(target.repository) is None:
        # Base images are mirrored, and the same tag is refreshed: a mutable repository.
        ecr.create_repository(replace(new_repository(config, target.repository),
                                      tag_mutability="MUTABLE"))
    login = ecr.login(target.account_id).for_host(target.registry)
    with ctx.registry(target.registry, auth=login, progress=ctx.progress) as registry:
        registry.push_layout(layout, target.repository, [demo.base_image_tag])
    return f"{target.image_base}:{demo.base_image_tag}"


def _build_base_layout(config: Config, layout_dir: Path) -> None:
    script = config.demo.base_image_script
    if script is None:
        raise BuildError(f"base image layout {layout_dir} is missing and no "
                         "demo.base_image_script is configured to build it")
    done = subprocess.run(["bash", str(config.path(script)), str(layout_dir)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BuildError(f"{script} failed: {last}; it needs root, mmdebstrap and the Debian "
                         "mirror (see its --help)")
