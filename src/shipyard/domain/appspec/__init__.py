"""The CodeDeploy AppSpec for an ECS blue/green deployment: build it, render it, check it.

The format is AWS's (CodeDeploy user guide, "AppSpec file example for an Amazon ECS
deployment" and "AppSpec 'hooks' section")::

    version: 0.0
    Resources:
      - TargetService:
          Type: AWS::ECS::Service
          Properties:
            TaskDefinition: arn:aws:ecs:...:task-definition/family:3
            LoadBalancerInfo: {ContainerName: app, ContainerPort: 8080}
            # optional: PlatformVersion, NetworkConfiguration, CapacityProviderStrategy
    Hooks:
      - BeforeInstall: my-lambda-function
      - AfterAllowTestTraffic: arn:aws:lambda:...:function:e2e

`validate_appspec` returns every problem, not just the first, so one run tells the user all
there is to fix; the generator runs it on what it builds, so a bad `[environments.X.hooks]`
fails with the same message as a bad file.

The package, one job a module: `schema` (the placeholder, resource type, hook events and the
patterns targets must match), `build` (an AppSpec from settings, rendered as YAML or JSON),
`parse` (reading a file), `validate` (the whole document) and `hooks` (the Hooks section and
where each EC2/on-premises hook's work belongs in ECS).
"""

from __future__ import annotations

from shipyard.domain.appspec.build import build_appspec, render_appspec
from shipyard.domain.appspec.hooks import (
    HOOK_GUIDANCE,
    hook_name_problem,
    hooks_problems,
    lambda_target_problem,
)
from shipyard.domain.appspec.parse import parse_appspec, top_level_lines
from shipyard.domain.appspec.schema import (
    ECS_HOOKS,
    ECS_SERVICE_TYPE,
    FORMATS,
    LAMBDA_TARGET,
    TASK_DEFINITION_ARN,
    TASK_DEFINITION_PLACEHOLDER,
)
from shipyard.domain.appspec.validate import task_definition_problem, validate_appspec

__all__ = [
    "ECS_HOOKS",
    "ECS_SERVICE_TYPE",
    "FORMATS",
    "HOOK_GUIDANCE",
    "LAMBDA_TARGET",
    "TASK_DEFINITION_ARN",
    "TASK_DEFINITION_PLACEHOLDER",
    "build_appspec",
    "hook_name_problem",
    "hooks_problems",
    "lambda_target_problem",
    "parse_appspec",
    "render_appspec",
    "task_definition_problem",
    "top_level_lines",
    "validate_appspec",
]
