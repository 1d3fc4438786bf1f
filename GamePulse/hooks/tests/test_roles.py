"""Each hook's role in infra/gamepulse.yaml grants exactly the calls its handler makes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from gamepulse_hooks import handlers
from hooks_fakes import FakeAws, FakeContext

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "gamepulse.yaml"
EVENT = {"DeploymentId": "d-ABCDEFGHI", "LifecycleEventHookExecutionId": "exec-3"}
# What Lambda itself does with the role: write the function's log.
LOGGING = {"logs:CreateLogStream", "logs:PutLogEvents"}


class _Template(yaml.SafeLoader):
    """CloudFormation's short forms as their long forms (`!GetAtt A.B` -> Fn::GetAtt [A, B])."""


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value = loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else (
        loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
        else loader.construct_mapping(node))
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {suffix if suffix == "Ref" else f"Fn::{suffix}": value}


_Template.add_multi_constructor("!", _short_form)


class Recorder:
    """One service's client: records each operation as its IAM action, then asks the fake."""

    def __init__(self, service: str, fake: FakeAws, calls: set[str]) -> None:
        self._service, self._fake, self._calls = service, fake, calls
        self.exceptions = fake.exceptions

    def __getattr__(self, operation: str) -> Any:
        self._calls.add(f"{self._service}:" + "".join(
            word.capitalize() for word in operation.split("_")))
        return getattr(self._fake, operation)


def granted(function_name: str) -> set[str]:
    resources = yaml.load(TEMPLATE.read_text(), Loader=_Template)["Resources"]
    function = next(r["Properties"] for r in resources.values()
                    if r["Type"] == "AWS::Lambda::Function"
                    and r["Properties"]["FunctionName"] == function_name)
    role = resources[function["Role"]["Fn::GetAtt"][0]]["Properties"]
    actions: set[str] = set()
    for policy in role["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            listed = statement["Action"]
            actions.update([listed] if isinstance(listed, str) else listed)
    return actions


@pytest.mark.parametrize(("hook", "name", "variable"), [
    (handlers.before_install, "CodeDeployHook_gamepulse-before-install", None),
    (handlers.after_allow_test_traffic, "CodeDeployHook_gamepulse-e2e-tests", "TEST_URL"),
    (handlers.after_allow_traffic, "CodeDeployHook_gamepulse-after-traffic", "PRODUCTION_URL"),
])
def test_the_role_grants_what_the_hook_calls_and_nothing_more(
        hook: Callable, name: str, variable: str | None, aws: FakeAws,
        gamepulse: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    calls: set[str] = set()
    monkeypatch.setattr(handlers, "client",
                        lambda service, settings=None: Recorder(service, aws, calls))
    if variable:
        monkeypatch.setenv(variable, gamepulse("1.4.0"))
    assert hook(EVENT, FakeContext())["status"] == "Succeeded"
    assert granted(name) == calls | LOGGING
