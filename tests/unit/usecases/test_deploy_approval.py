"""The approval gate before a deploy's first write."""

from __future__ import annotations

import pytest

from shipyard.config import EnvironmentSettings
from shipyard.errors import ApprovalError, ExitCode
from shipyard.usecases.deploy.approval import is_yes, require_approval


def environment(require: bool) -> EnvironmentSettings:
    return EnvironmentSettings(cluster="c", service="s", task_definition="td.json",
                               require_approval=require)


class Asker:
    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.questions: list[str] = []

    def __call__(self, question: str) -> bool:
        self.questions.append(question)
        return self.answer


@pytest.mark.parametrize("yes", [False, True])
@pytest.mark.parametrize("interactive", [False, True])
def test_an_environment_without_the_setting_never_asks(yes: bool, interactive: bool) -> None:
    ask = Asker(False)
    assert require_approval("staging", environment(False), yes=yes, interactive=interactive,
                            ask=ask, version="1.2.3") == ""
    assert ask.questions == []


@pytest.mark.parametrize("interactive", [False, True])
def test_yes_proceeds_without_asking(interactive: bool) -> None:
    ask = Asker(False)
    line = require_approval("production", environment(True), yes=True,
                            interactive=interactive, ask=ask, version="1.2.3")
    assert line == "production requires approval: given by --yes"
    assert ask.questions == []


def test_a_terminal_is_asked_and_yes_proceeds() -> None:
    ask = Asker(True)
    line = require_approval("production", environment(True), yes=False, interactive=True,
                            ask=ask, version="1.2.3")
    assert ask.questions == ["Deploy 1.2.3 to production? [y/N]"]
    assert line == "production requires approval: given at the prompt"


def test_no_at_the_prompt_is_exit_16() -> None:
    ask = Asker(False)
    with pytest.raises(ApprovalError) as raised:
        require_approval("production", environment(True), yes=False, interactive=True,
                         ask=ask, version="1.2.3")
    assert raised.value.exit_code == ExitCode.APPROVAL == 16
    assert str(raised.value) == ("the deploy 1.2.3 to production was not approved (the answer "
                                 "was no); nothing was changed; run it again and answer y to "
                                 "deploy")


def test_an_unknown_version_is_not_named_in_the_question() -> None:
    ask = Asker(True)
    require_approval("production", environment(True), yes=False, interactive=True, ask=ask)
    assert ask.questions == ["Deploy to production? [y/N]"]


def test_a_run_that_cannot_ask_is_refused_naming_the_fix() -> None:
    ask = Asker(True)
    with pytest.raises(ApprovalError) as raised:
        require_approval("production", environment(True), yes=False, interactive=False,
                         ask=ask, version="1.2.3")
    message = str(raised.value)
    assert message.startswith("production requires approval (require_approval = true) and "
                              "this run cannot ask (no terminal)")
    assert "pass --yes" in message and "`environment: production`" in message
    assert "\n" not in message
    assert ask.questions == []


@pytest.mark.parametrize(("answer", "approved"), [
    ("y", True), ("Y", True), ("yes", True), (" YES \n", True),
    ("", False), ("n", False), ("no", False), ("yep", False), ("sure", False), ("y y", False),
])
def test_only_y_or_yes_approves(answer: str, approved: bool) -> None:
    assert is_yes(answer) is approved
