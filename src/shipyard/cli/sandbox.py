"""`shipyard sandbox up|down|env`: the local stand-in for AWS and ECR.

The sandbox is a separate package; this command is the one place the product's CLI reaches
into it, and only to start, stop and describe it. Everything else sees endpoints.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli.app import JsonFlag, Out
from shipyard.cli.options import key_value_pairs
from shipyard.errors import SandboxError as SandboxUnavailable
from shipyard.errors import UsageError

sandbox_app = typer.Typer(help="Run the local sandbox: an ECR-like registry and moto's AWS.",
                          no_args_is_help=True)

StateDir = Annotated[Path | None, typer.Option(
    "--state-dir", help="Where the sandbox keeps its state (default: $SHIPYARD_SANDBOX_DIR or "
    "~/.local/state/shipyard/sandbox).", show_default=False)]


def _control():
    try:
        from shipyard_sandbox import control
    except ImportError as exc:  # the sandbox's dependencies are an extra of their own
        raise SandboxUnavailable(f"the sandbox needs moto and bcrypt ({exc.name} is missing); "
                                 "pip install 'shipyard[sandbox]' (or run dev/bootstrap in a "
                                 "checkout)") from exc
    return control


def _print_env(out: Out, env: dict[str, str], as_json: bool) -> None:
    if as_json:
        out.json(env)
        return
    for key, value in env.items():
        out.line(f"export {key}={shlex.quote(value)}")


@sandbox_app.command("up")
def up(
    region: Annotated[str, typer.Option(help="The AWS region the sandbox serves.")] =
    "ap-northeast-2",
    registry_port: Annotated[int, typer.Option(help="Registry port (0: any free port).")] = 0,
    aws_port: Annotated[int, typer.Option(help="AWS API port (0: any free port).")] = 0,
    time_scale: Annotated[float | None, typer.Option(
        help="Divide every wait AWS would make (health-check intervals, deregistration "
             "delay, canary steps) by this; the API still reports the configured values. "
             "Default 30.", show_default=False)] = None,
    state_dir: StateDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Start the sandbox (if it is not running) and print the environment to export."""
    if time_scale is not None and not 1.0 <= time_scale < float("inf"):
        raise UsageError(f"--time-scale {time_scale} must be a number of at least 1 (1 waits "
                         "as long as AWS does)")
    control = _control()
    directory = state_dir or control.default_state_dir()
    try:
        endpoints, started = control.up(directory, region=region, registry_port=registry_port,
                                        aws_port=aws_port, time_scale=time_scale)
    except control.SandboxError as exc:
        raise SandboxUnavailable(str(exc)) from exc
    out = Out(as_json)
    out.info(("started" if started else "already running") + f": state in {directory}; "
             'run eval "$(shipyard sandbox env)" to use it')
    _print_env(out, endpoints.environment(), as_json)


@sandbox_app.command("env")
def env(state_dir: StateDir = None, as_json: JsonFlag = False) -> None:
    """Print the environment that points Shipyard (and the aws CLI) at the sandbox, and
    SHIPYARD_LISTENER_<LOAD BALANCER>_<PORT>: the local URL of each load balancer listener."""
    control = _control()
    directory = state_dir or control.default_state_dir()
    state = control.read_state(directory)
    if state is None:
        raise SandboxUnavailable(f"no sandbox is running (state {directory}); "
                                 "start one with: shipyard sandbox up")
    _print_env(Out(as_json), {**control.endpoints_of(state).environment(),
                              **control.listener_environment(directory)}, as_json)


@sandbox_app.command("status")
def status(state_dir: StateDir = None, as_json: JsonFlag = False) -> None:
    """Show what the sandbox runs: clusters, services and their deployments, tasks (with
    their containers' process ids), listeners (local URL, weights), CodeDeploy deployments."""
    _control()  # the extra's check
    from shipyard_sandbox import control
    from shipyard_sandbox import status as sandbox_status

    directory = state_dir or control.default_state_dir()
    try:
        document = sandbox_status.collect(directory)
    except sandbox_status.NotRunning as exc:
        raise SandboxUnavailable(str(exc)) from exc
    out = Out(as_json)
    if as_json:
        out.json(document)
        return
    for line in sandbox_status.render(document):
        out.line(line)


@sandbox_app.command("down")
def down(state_dir: StateDir = None, as_json: JsonFlag = False) -> None:
    """Stop the sandbox; its registry storage stays until the state folder is removed."""
    control = _control()
    directory = state_dir or control.default_state_dir()
    stopped = control.down(directory)
    out = Out(as_json)
    if as_json:
        out.json({"stopped": stopped, "state_dir": str(directory)})
        return
    out.info(("stopped" if stopped else "no sandbox was running") + f" (state in {directory})")


def ensure_sandbox(out: Out) -> tuple[dict[str, str], Path, bool]:
    """Start the sandbox unless it runs (default state folder); returns its environment,
    its state folder, and whether it was started now."""
    control = _control()
    directory = control.default_state_dir()
    try:
        endpoints, started = control.up(directory, region="ap-northeast-2")
    except control.SandboxError as exc:
        raise SandboxUnavailable(str(exc)) from exc
    out.info(("started" if started else "using") + f" the sandbox (state in {directory})")
    return endpoints.environment(), Path(directory), bool(started)


def sandbox_environment() -> dict[str, str]:
    """What `shipyard sandbox env` prints: the running sandbox's endpoints, credentials and
    listener URLs (SHIPYARD_SANDBOX_DIR or the default state folder)."""
    control = _control()
    directory = control.default_state_dir()
    state = control.read_state(directory)
    if state is None:
        raise SandboxUnavailable(f"no sandbox is running (state {directory}); start one with: "
                           "shipyard sandbox up")
    return {**control.endpoints_of(state).environment(),
            **control.listener_environment(directory)}


@sandbox_app.command("provision")
def provision(
    template: Annotated[Path, typer.Argument(help="A CloudFormation template, e.g. "
                                                  "GamePulse/infra/gamepulse.yaml.")],
    parameter: Annotated[list[str] | None, typer.Option(
        "--parameter", help="A template parameter KEY=VALUE (repeatable).",
        show_default=False)] = None,
    stack_name: Annotated[str | None, typer.Option(
        help="The stack name (default: from the template's file name).",
        show_default=False)] = None,
    state_dir: StateDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a template's resources in the running sandbox, under the template's names."""
    control = _control()
    parameters = key_value_pairs(parameter, "--parameter", "GitHubRepository=acme/gamepulse")
    if not template.is_file():
        raise UsageError(f"template {template} does not exist; pass a CloudFormation file")
    try:
        report = control.provision(state_dir or control.default_state_dir(), template,
                                   parameters, stack_name=stack_name)
    except control.SandboxError as exc:
        raise SandboxUnavailable(str(exc)) from exc
    out = Out(as_json)
    if as_json:
        out.json(report.as_dict())
        return
    for line in report.lines():
        out.line(line)
    for key, value in report.outputs.items():
        out.line(f"{key} = {value}")


def provision_for_demo(template: Path, parameters: dict[str, str]):
    """Create the service's CloudFormation resources in the demo's sandbox (idempotent);
    returns the sandbox's `ProvisionReport`."""
    control = _control()
    try:
        return control.provision(control.default_state_dir(), template, dict(parameters))
    except control.SandboxError as exc:
        raise SandboxUnavailable(str(exc)) from exc


def listener_urls() -> dict[str, str]:
    """SHIPYARD_LISTENER_<LOAD BALANCER>_<PORT> -> URL, of the demo's sandbox."""
    control = _control()
    return dict(control.listener_environment(control.default_state_dir()))
