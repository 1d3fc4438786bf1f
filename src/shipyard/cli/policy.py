"""`shipyard policy check ENV`: run an environment's compliance gate on an image, alone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, session
from shipyard.cli.options import Environment, Image

if TYPE_CHECKING:
    from shipyard.usecases.policy import PolicyResult

policy_app = typer.Typer(help="The compliance gate of [environments.ENV.policy].",
                         no_args_is_help=True)


@policy_app.command("check")
def check(
    ctx: typer.Context,
    environment: Environment,
    image: Image = None,
    version: Annotated[str | None, typer.Option(
        "--version", help="The image that version's tag names in ECR.",
        show_default=False)] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check an image against the policy `deploy` enforces for ENV: signature, SBOMs, scan,
    labels, promotion. Reads only; exit 19 naming each failed rule."""
    from shipyard.errors import UsageError
    from shipyard.usecases.deploy.plan import IMAGE_VARIABLE, deploy_image
    from shipyard.usecases.policy import check_policy, enforce_policy, image_digest
    from shipyard.usecases.target import resolve_target

    state = session(ctx)
    config = state.config()
    settings = config.environment(environment)
    chosen = deploy_image(image, version) or state.env.get(IMAGE_VARIABLE)
    if not chosen:
        raise UsageError("name the image: --image REF or --version V (or SHIPYARD_IMAGE, as "
                         "the workflow sets it)")
    if settings.policy is None:
        raise UsageError(f"environment {environment} has no policy; add "
                         f"[environments.{environment}.policy] to shipyard.toml")
    context = state.context(config)
    target = resolve_target(config, context)
    result = check_policy(environment, image_digest(chosen, target, context), config,
                          context, target)
    assert result is not None
    out = Out(as_json)
    if as_json:
        out.json(result.summary())
    else:
        print_policy(result, out)
    enforce_policy(result)


def print_policy(result: PolicyResult, out: Out) -> None:
    out.line(f"policy of {result.environment} for {result.image}: "
             f"{'passed' if result.passed else 'FAILED'}")
    width = max(len(rule.rule) for rule in result.rules) if result.rules else 0
    for rule in result.rules:
        out.line(f"  {'ok ' if rule.passed else 'BAD'} {rule.rule:<{width}}  {rule.detail}")
