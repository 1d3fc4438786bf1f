"""The rehearsal's `${{ }}` evaluator: what it evaluates as GitHub does, what it refuses."""

from __future__ import annotations

import pytest

from shipyard.usecases.rehearse.expressions import (
    ExpressionError,
    condition,
    evaluate,
    interpolate,
    templates,
)

CONTEXTS = {
    "github": {"ref": "refs/heads/main", "event_name": "push",
               "event": {"inputs": {"environment": "production"}}},
    "needs": {"build": {"result": "success", "outputs": {"version": "1.2.0", "image":
                                                          "reg/gp@sha256:ab"}},
              "deploy-staging": {"result": "failure", "outputs": {}}},
    "steps": {"push": {"outputs": {"git-tag": ""}}},
    "inputs": {"version": "", "dry": False},
    "secrets": {},
    "matrix": {"python": "3.11"},
    "env": {"COUNT": "3"},
}


@pytest.mark.parametrize(("source", "expected"), [
    ("github.ref == 'refs/heads/main'", True),
    ("github.ref != 'refs/heads/main'", False),
    ("github.REF == 'REFS/HEADS/MAIN'", True),  # names and strings compare case-insensitively
    ("needs.build.outputs.version", "1.2.0"),
    ("needs.deploy-staging.result", "failure"),  # a name with dashes
    ("needs['deploy-staging'].result == 'failure'", True),
    ("steps.push.outputs.git-tag != ''", False),
    ("steps.missing.outputs.x", None),  # a missing property is null
    ("inputs.version || needs.build.outputs.version", "1.2.0"),  # || gives an operand
    ("github.event_name == 'push' && 'yes'", "yes"),
    ("!inputs.dry", True),
    ("!(github.event_name == 'push')", False),
    ("startsWith(github.ref, 'refs/heads/')", True),
    ("startsWith(github.ref, 'refs/tags/')", False),
    ("contains(github.ref, 'MAIN')", True),
    ("contains(github.event_name, 'pull')", False),
    ("format('{0}-{1}', matrix.python, 'x')", "3.11-x"),
    ("format('{{literal}} {0}', 1)", "{literal} 1"),
    ("env.COUNT == 3", True),  # across types: compared as numbers
    ("null == 0", True),
    ("'' == 0", True),
    ("'abc' == 0", False),  # NaN equals nothing
    ("true == 1", True),
    ("'it''s'", "it's"),
    ("0x10 == 16", True),
])
def test_evaluates_as_github_does(source: str, expected: object) -> None:
    assert evaluate(source, CONTEXTS) == expected


def test_the_object_filter_collects_a_property_of_every_value() -> None:
    assert evaluate("contains(needs.*.result, 'failure')", CONTEXTS) is True
    assert evaluate("contains(needs.*.result, 'cancelled')", CONTEXTS) is False
    assert evaluate("needs.*.outputs.version", CONTEXTS) == ["1.2.0"]


def test_contains_on_a_list_compares_items() -> None:
    contexts = {"github": {"event": {"labels": ["Deploy", "other"]}}}
    assert evaluate("contains(github.event.labels, 'deploy')", contexts) is True
    assert evaluate("contains(github.event.labels, 'dep')", contexts) is False


def test_interpolation_writes_values_as_text() -> None:
    text = "v=${{ needs.build.outputs.version }} ok=${{ inputs.dry }} none=${{ inputs.nope }}"
    assert interpolate(text, CONTEXTS) == "v=1.2.0 ok=false none="


def test_a_closing_brace_pair_inside_a_string_does_not_close_the_template() -> None:
    assert [source for _, _, source in templates("a ${{ format('}}{0}', 1) }} b")] == [
        "format('}}{0}', 1)"]


@pytest.mark.parametrize(("status", "expression", "expected"), [
    ("success", "success()", True),
    ("failure", "success()", False),
    ("failure", "failure()", True),
    ("failure", "always()", True),
    ("cancelled", "cancelled()", True),
    ("cancelled", "always()", True),
    ("success", "failure()", False),
])
def test_status_functions_answer_from_the_status(status: str, expression: str,
                                                 expected: bool) -> None:
    assert evaluate(expression, {}, lambda: status) is expected


def test_an_if_without_a_status_function_means_success_and_it() -> None:
    # GitHub reads `if: github.ref == ...` as `success() && (github.ref == ...)`: after a
    # failure such a step is skipped; with always() in it, it runs.
    plain = condition("github.ref == 'refs/heads/main'")
    assert evaluate(plain, CONTEXTS, lambda: "success") is True
    assert evaluate(plain, CONTEXTS, lambda: "failure") is False
    explicit = condition("${{ always() && github.ref == 'refs/heads/main' }}")
    assert evaluate(explicit, CONTEXTS, lambda: "failure") is True
    assert evaluate(condition(True), {}, lambda: "failure") is True
    assert evaluate(condition(False), {}) is False


@pytest.mark.parametrize(("source", "named"), [
    ("hashFiles('**/x')", "hashFiles()"),
    ("toJSON(github)", "toJSON()"),
    ("fromJSON('1')", "fromJSON()"),
    ("strategy.job-index", "context 'strategy'"),
    ("needs.build.outputs.n > 1", "'>'"),
])
def test_what_it_does_not_evaluate_is_refused_by_name(source: str, named: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        evaluate(source, CONTEXTS)
    assert named in str(raised.value)


@pytest.mark.parametrize("source", ["github.ref ==", "(github.ref", "'open", "a b", "",
                                    "startsWith(github.ref)", "format()"])
def test_syntax_errors_are_refused(source: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(source, CONTEXTS)


def test_an_unclosed_template_is_refused() -> None:
    with pytest.raises(ExpressionError, match="no closing"):
        interpolate("x ${{ github.ref", CONTEXTS)
