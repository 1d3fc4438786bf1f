"""Task-definition rendering, model checks and diff normalization, without AWS."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.domain.taskdef import (
    TemplateContext,
    model_problems,
    normalized,
    render_template,
)
from shipyard.errors import ConfigError


def render_files(path, ctx):
    """Render a template from files: the domain takes a source function, here over a folder."""
    def source(name):
        found = path.parent / name
        return (found.read_text(), str(found)) if found.is_file() else None

    return render_template(path.name, source, ctx)


def context(**variables) -> TemplateContext:
    return TemplateContext(variables={"image": "r/app@sha256:abc", **variables},
                           values={"cpu": "256"}, environ={"STAGE": "qa"},
                           secret_arn=lambda name: f"arn:aws:secretsmanager:r:1:secret:{name}"
                           if name == "known" else None,
                           parameter=lambda name: "fs-1" if name == "/fs" else None)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{"v": "{{ image }}"}', {"v": "r/app@sha256:abc"}),
        ('{"v": "{{ values.cpu }}"}', {"v": "256"}),
        ('{"v": "{{ env(\'STAGE\') }}"}', {"v": "qa"}),
        ('{"v": "{{ env(\'UNSET\', \'dflt\') }}"}', {"v": "dflt"}),  # the default when unset
        ('{"v": "{{ env(\'UNSET\') }}"}', {"v": ""}),  # env() without a default is lenient
        ('{"v": "{{ must_env(\'STAGE\') }}"}', {"v": "qa"}),
        ('{"v": "{{ secret_arn(\'known\') }}"}', {"v": "arn:aws:secretsmanager:r:1:secret:known"}),
        ('{"v": "{{ ssm(\'/fs\') }}"}', {"v": "fs-1"}),
    ],
)
def test_render(tmp_path: Path, template: str, expected: dict) -> None:
    path = tmp_path / "td.json"
    path.write_text(template)
    assert render_files(path, context()) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ('{\n"v": "{{ nope }}"}', "td.json line 2: 'nope' is undefined"),
        ('{"v": "{{ must_env(\'UNSET\') }}"}', 'must_env("UNSET"): UNSET is not set'),
        ('{"v": "{{ secret_arn(\'gone\') }}"}', 'secret_arn("gone"): no such secret'),
        ('{"v": "{{ ssm(\'/gone\') }}"}', 'ssm("/gone"): no such SSM parameter'),
        ('{% include "missing.json" %}', "includes 'missing.json', which does not exist"),
        # JSON, but a list: a task definition is one object
        ('[{"v": "{{ image }}"}]', "the rendered template is JSON but not an object"),
    ],
)
def test_render_errors(tmp_path: Path, template: str, message: str) -> None:
    path = tmp_path / "td.json"
    path.write_text(template)
    with pytest.raises(ConfigError) as caught:
        render_files(path, context())
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_an_error_in_an_included_file_names_that_file(tmp_path: Path) -> None:
    (tmp_path / "_part.json").write_text('\n\n"{{ typo }}"')
    (tmp_path / "td.json").write_text('{"v": {% include "_part.json" %}}')
    with pytest.raises(ConfigError, match=r"_part\.json line 3: 'typo' is undefined"):
        render_files(tmp_path / "td.json", context())


def test_model_problems() -> None:
    good = {"family": "f", "containerDefinitions": [{"name": "a", "image": "i"}]}
    assert model_problems(good) == []
    bad = {"family": "f", "cpu": 256, "containerDefinitions": [{"name": "a", "imag": "i"}]}
    problems = model_problems(bad)
    assert any("Invalid type for parameter cpu" in p for p in problems)
    assert any('Unknown parameter in containerDefinitions[0]: "imag"' in p for p in problems)
    # the path and the types, never the value: a rendered value may be a secret
    assert "Invalid type for parameter cpu (int), valid types: <class 'str'>" in problems
    assert not any("256" in p for p in problems)


def test_normalized_ignores_what_describe_adds() -> None:
    rendered = {"family": "f", "containerDefinitions": [
        {"name": "a", "image": "i", "environment": [{"name": "B", "value": "2"},
                                                      {"name": "A", "value": "1"}]}],
        "volumes": [{"name": "v", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}]}
    described = {"taskDefinitionArn": "arn", "revision": 3, "status": "ACTIVE",
                 "registeredAt": "2026-01-01", "requiresAttributes": [{"name": "x"}],
                 "compatibilities": ["EC2", "FARGATE"], "family": "f",
                 "containerDefinitions": [{
                     "name": "a", "image": "i", "cpu": 0, "essential": True,
                     "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                     "mountPoints": [], "volumesFrom": [], "portMappings": []}],
                 "volumes": [{"name": "v", "efsVolumeConfiguration": {
                     "fileSystemId": "fs-1", "rootDirectory": "/"}}],
                 "placementConstraints": []}
    assert normalized(described) == normalized(rendered)
    changed = {**rendered, "family": "g"}
    assert normalized(described) != normalized(changed)


def test_values_are_escaped_so_they_cannot_break_or_extend_the_json(tmp_path: Path) -> None:
    path = tmp_path / "td.json"
    path.write_text('{"password": "{{ ssm(\'/pw\') }}", "n": {{ values.count }}}')
    tricky = 'a", "privileged": true, "x": "\n'
    ctx = TemplateContext(variables={}, values={"count": 3}, environ={},
                          secret_arn=lambda name: None, parameter=lambda name: tricky)
    assert render_files(path, ctx) == {"password": tricky, "n": 3}


def test_a_json_error_does_not_show_the_rendered_text(tmp_path: Path) -> None:
    path = tmp_path / "td.json"
    path.write_text('{"password": "{{ ssm(\'/pw\') }}" "oops": 1}')
    ctx = TemplateContext(variables={}, values={}, environ={}, secret_arn=lambda name: None,
                          parameter=lambda name: "hunter2")
    with pytest.raises(ConfigError) as caught:
        render_files(path, ctx)
    assert "rendered line 1 column" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_an_include_loop_is_named(tmp_path) -> None:
    (tmp_path / "a.json").write_text('{"v": {% include "b.json" %}}')
    (tmp_path / "b.json").write_text('{% include "a.json" %}')
    with pytest.raises(ConfigError, match=r"a\.json: the includes form a loop"):
        render_files(tmp_path / "a.json", context())


def test_a_deeply_nested_rendering_is_named(tmp_path) -> None:
    (tmp_path / "td.json").write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ConfigError, match=r"td\.json: the rendered template nests"):
        render_files(tmp_path / "td.json", context())
