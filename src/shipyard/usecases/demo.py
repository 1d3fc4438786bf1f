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
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from shipyard.adapters.aws import Aws
from shipyard.adapters.builders import Builder
from shipyard.adapters.ecr import Ecr
from shipyard.adapters.git import Git
from shipyard.adapters.github import ActionsContext
from shipyard.adapters.oci_layout import OciLayout
from shipyard.adapters.registry import BasicAuth, ProgressCallback, RegistryClient
from shipyard.config import Config
from shipyard.errors import BuildError
from shipyard.usecases.push import PushDeps, PushOptions, PushResult, new_repository, push
from shipyard.usecases.render import EnvironmentDeps
from shipyard.usecases.scan import enforce_gate
from shipyard.usecases.tags import TagsOptions, TagsResult, plan_image_tags
from shipyard.usecases.target import resolve_target
from shipyard.usecases.verify import VerifyResult, verify_environment


@dataclass
class DemoDeps:
    """The outside world the demo needs."""

    git: Git
    actions: ActionsContext | None
    aws: Aws
    env: Mapping[str, str]
    builder: Builder | None
    progress: ProgressCallback | None = None


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


def run_demo(config: Config, deps: DemoDeps) -> DemoResult:
    """Run the pipeline's steps in order; the first failure stops it with its own error."""
    result = DemoResult(tags=plan_image_tags(TagsOptions(), config, deps.git, deps.actions))
    env = dict(deps.env)
    if config.demo.base_image_layout is not None:
        result.base_image = publish_base_image(config, deps)
        env[config.demo.base_image_env] = result.base_image
    push_deps = PushDeps(git=deps.git, actions=deps.actions, aws=deps.aws, env=env,
                         builder=deps.builder, progress=deps.progress)
    result.push = push(PushOptions(multi_arch=True, latest=True, scan=True), config, push_deps)
    enforce_gate(result.push.scan)
    environment_deps = EnvironmentDeps(git=deps.git, actions=deps.actions, aws=deps.aws,
                                       env=env)
    for name in config.environments:
        result.verified.append(verify_environment(name, result.push.image, config,
                                                  environment_deps))
    return result


def publish_base_image(config: Config, deps: DemoDeps) -> str:
    """Make sure the base image exists in the registry; returns its reference."""
    demo = config.demo
    assert demo.base_image_layout is not None
    layout_dir = config.path(demo.base_image_layout)
    if not (layout_dir / "index.json").exists():
        _build_base_layout(config, layout_dir)
    layout = OciLayout.open(layout_dir)
    target = resolve_target(config, {**deps.env, "ECR_REPOSITORY": demo.base_image_repository},
                            deps.aws)
    ecr = Ecr(deps.aws)
    if ecr.describe_repository(target.repository) is None:
        # Base images are mirrored, and the same tag is refreshed: a mutable repository.
        ecr.create_repository(replace(new_repository(config, target.repository),
                                      tag_mutability="MUTABLE"))
    login = ecr.login(target.account_id)
    with RegistryClient(target.registry, auth=BasicAuth(login.username, login.password),
                        progress=deps.progress) as registry:
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
