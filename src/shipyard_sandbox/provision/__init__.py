"""Create a CloudFormation template's resources in a running sandbox, under the same names.

DESIGN 5: "the sandbox creates the same resources, from this template where moto's
CloudFormation supports them". moto's CloudFormation lacks some types and, for others, drops the
properties Shipyard relies on, so each logical resource is created one of three ways:

- **stack**: by moto's CloudFormation, from a derived template holding only such resources, with
  every reference to a parameter or to a resource made elsewhere replaced by its value;
- **api**: through the service's own API, from the template's properties, because moto's
  CloudFormation lacks the type or loses what matters (`API_REASONS` says which, per type);
- **skipped**: its `Condition` is false, or neither way can make it (nor what needs it).

References cross the two ways in both directions (the ECS services need the stack's target
groups; the stack's SSM parameters hold the access points' ids), so the work goes in rounds:
every API resource whose references exist, then one stack of every such stack resource, and
again; GamePulse's template takes two stacks (`gamepulse`, `gamepulse-2`). Running it again
finds everything and reports "exists"; a resource that exists already (the `gamepulse` ECR
repository, pushed to by other tests; the roles the task definitions name) is kept and brought
to the template's settings. Existence is always asked of the resource's own service, never of
a stack: moto's stack keeps listing a resource deleted through its API, so each stack resource
is checked (`probes`) and what was deleted is made again, in a restore stack
(`gamepulse-restored-1`; see `stacks`), and reported "created". Stacks are never updated: after
changing the template, restart the sandbox (or delete the stacks) and provision again.

What moto cannot represent at all, whichever way a resource is made (`MOTO_GAPS`):
- ECS services keep no DeploymentConfiguration (circuit breaker and rollback, minimum/maximum
  percent) and no HealthCheckGracePeriodSeconds; and no task runs (the sandbox's deploy runner,
  not moto, is what starts containers);
- target groups and load balancers keep no attributes; the ALB, its listeners and the EFS mount
  targets are records, with nothing listening behind them;
- CodeDeploy keeps a group's AlarmConfiguration but GetDeploymentGroup answers it empty;
- AWS managed policies exist only because the sandbox runs moto with
  MOTO_IAM_LOAD_MANAGED_POLICIES=true (`shipyard_sandbox.__main__`); the report names those
  attached, or, from a moto without them, those that were not;
- IAM policies, the GitHub OIDC trust and the confused-deputy conditions are stored but never
  enforced (moto does not evaluate IAM, and accepts any web-identity token);
- CloudWatch alarms see no ALB metrics, so they never fire by themselves;
- ECR lifecycle policies are stored and never run.

Modules: `template` (reading it), `intrinsics` (Ref, Fn::Sub, conditions...), `parameters`,
`network` (the VPC made when none is given), `rounds` (planning, the API and stack rounds),
`stacks` (moto's CloudFormation stacks, restore stacks included), `account_settings` (the
ECR account settings the template's `Shipyard::AccountSettings` metadata names), `probes`
(whether a stack's resource still exists), `creators` (one module per service), `attributes`
(Fn::GetAtt read from the APIs), `aws` (clients on the sandbox), `report`.
"""

from __future__ import annotations

import re
from pathlib import Path

from shipyard_sandbox.provision.account_settings import apply_account_settings
from shipyard_sandbox.provision.aws import Aws
from shipyard_sandbox.provision.intrinsics import Resolver, references
from shipyard_sandbox.provision.package import package_local_code
from shipyard_sandbox.provision.report import ProvisionError, ProvisionReport, ResourceOutcome
from shipyard_sandbox.provision.rounds import Provisioner
from shipyard_sandbox.provision.template import load_template

__all__ = ["ProvisionError", "ProvisionReport", "Resolver", "ResourceOutcome", "load_template",
           "provision", "references"]


def provision(aws_endpoint: str, region: str, template: Path, parameters: dict[str, str], *,
              stack_name: str | None = None) -> ProvisionReport:
    """Create `template`'s resources in the sandbox at `aws_endpoint`; safe to run again.

    `parameters` are the template's parameters as strings (lists comma-separated); VPC and
    subnet parameters left out are filled with a network made for the purpose. Stacks are
    named after the template (`gamepulse.yaml` -> `gamepulse`, `gamepulse-2`, ...).

        provision("http://127.0.0.1:5000", "ap-northeast-2", Path("infra/gamepulse.yaml"),
                  {"GitHubRepository": "octo/gamepulse"})
    """
    body = load_template(template)
    name = stack_name or re.sub(r"[^A-Za-z0-9-]+", "-", template.stem).strip("-") or "sandbox"
    aws = Aws(aws_endpoint, region)
    # As `aws cloudformation package` would: local code paths become S3 locations.
    upload_code = package_local_code(aws, body, template.parent)
    report = Provisioner(aws, body, name).run(parameters, before_create=upload_code)
    apply_account_settings(aws, body, report)
    return report
