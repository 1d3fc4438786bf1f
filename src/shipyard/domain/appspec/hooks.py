"""The Hooks section of an ECS AppSpec: event names, Lambda targets, and where the work of an
EC2/on-premises hook belongs in an ECS deployment."""

from __future__ import annotations

import difflib
from typing import Any

from shipyard.domain.appspec.schema import ECS_HOOKS, LAMBDA_TARGET
from shipyard.domain.appspec.shown import key, kind
from shipyard.domain.appspec.shown import name as shown_name

_EC2 = "is an EC2/on-premises hook, not an ECS one"
_RESERVED = "is a step CodeDeploy runs itself and no hook can run at it"
# Where the work of a non-ECS hook belongs in an ECS deployment, and why.
HOOK_GUIDANCE = {
    # EC2 runs ApplicationStop on the old revision before installing the new one. ECS stops
    # the original task set itself once traffic has moved; work that must come before the new
    # version exists runs in BeforeInstall, before the replacement task set is created.
    "ApplicationStop": f"{_EC2}: ECS stops the original tasks itself; work that must precede "
                       "the new version belongs in BeforeInstall",
    # EC2 runs ApplicationStart to start the installed app. ECS starts the containers itself;
    # AfterInstall runs once the replacement task set is up, which is where checks of it go.
    "ApplicationStart": f"{_EC2}: ECS starts the containers itself; use AfterInstall, which "
                        "runs once the replacement task set is up",
    # ValidateService checks the new revision. ECS offers two points: AfterAllowTestTraffic
    # (behind the test listener, before any user sees it, so a failure rolls back unseen) and
    # AfterAllowTraffic (after production traffic has moved).
    "ValidateService": f"{_EC2}: validate in AfterAllowTestTraffic (behind the test listener, "
                       "before users see it) or AfterAllowTraffic (after production traffic "
                       "moved)",
    # ECS has no separate block-traffic step: traffic leaves the original task set when it
    # moves to the replacement, between BeforeAllowTraffic and AfterAllowTraffic.
    "BeforeBlockTraffic": f"{_EC2}: ECS moves traffic off the original tasks in one step; use "
                          "BeforeAllowTraffic",
    "AfterBlockTraffic": f"{_EC2}: ECS moves traffic off the original tasks in one step; use "
                         "AfterAllowTraffic",
    "DownloadBundle": f"{_RESERVED} (EC2/on-premises): ECS pulls the image itself; use "
                      "BeforeInstall",
    "BlockTraffic": f"{_RESERVED} (EC2/on-premises); use BeforeAllowTraffic or "
                    "AfterAllowTraffic",
    "Install": f"{_RESERVED}; use BeforeInstall or AfterInstall",
    "TestTraffic": f"{_RESERVED}; use AfterAllowTestTraffic",
    "AllowTraffic": f"{_RESERVED}; use BeforeAllowTraffic or AfterAllowTraffic",
    "Start": f"{_RESERVED}; use BeforeInstall",
    "End": f"{_RESERVED}; use AfterAllowTraffic",
}


def hooks_problems(hooks: Any) -> list[str]:
    """Problems with a Hooks section: its shape, each event name, each Lambda target."""
    problems = []
    if isinstance(hooks, dict):
        # AWS documents a list of one-key entries; a plain mapping is the usual slip.
        problems.append("Hooks is a mapping; the AppSpec lists hooks, one per entry: "
                        "'- BeforeInstall: my-function'")
        entries = [{name: target} for name, target in hooks.items()]
    elif isinstance(hooks, list):
        entries = hooks
    else:
        return ["Hooks must be a list of entries like '- BeforeInstall: my-function'"]
    seen: set[str] = set()
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or len(entry) != 1:
            problems.append(f"Hooks entry {number} must be one 'Event: function' pair")
            continue
        [(name, target)] = entry.items()
        if name in seen:
            problems.append(f"Hooks: {key(name)} is listed twice; CodeDeploy runs one function "
                            "per event, so keep one")
        seen.add(name)
        problems += _maybe(hook_name_problem(name))
        problems += _maybe(lambda_target_problem(name, target))
    return problems


def hook_name_problem(name: Any) -> str | None:
    """Why `name` is not an ECS lifecycle event a hook can run at, or None when it is."""
    if name in ECS_HOOKS:
        return None
    if name in HOOK_GUIDANCE:
        return f"Hooks: {key(name)} {HOOK_GUIDANCE[name]}"
    by_lower = {hook.lower(): hook for hook in ECS_HOOKS}
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1)
    hint = f" (did you mean '{by_lower[close[0]]}'?)" if close else ""
    return (f"Hooks: {key(name)} is not an ECS lifecycle event; use {', '.join(ECS_HOOKS)}{hint}")


def lambda_target_problem(name: Any, target: Any) -> str | None:
    """Why `target` cannot be the Lambda function hooked at `name`, or None when it can."""
    if isinstance(target, str) and LAMBDA_TARGET.match(target):
        return None
    return (f"Hooks: {shown_name(name, 'an event')} runs "
            f"{kind(target)} that is not a Lambda function name (1-64 "
            "letters, digits, '-', '_') or ARN (arn:aws:lambda:<region>:<account>:function:"
            "<name>)")


def _maybe(problem: str | None) -> list[str]:
    return [problem] if problem else []
