"""Every boolean, integer and number in shipyard.toml is strict, including ones added later.

Lax validation would read `scan_on_push = "off"` as false; this walks every settings model, so
a new field with a lax scalar type fails here rather than in a user's pipeline.
"""

from __future__ import annotations

import types
import typing

import pytest
from pydantic import BaseModel, ValidationError

from shipyard import config

# What a model needs besides the field under test, to validate at all.
REQUIRED = {
    config.EnvironmentSettings: {"cluster": "c", "service": "s", "task_definition": "td.json"},
    config.CapacityProvider: {"capacity_provider": "FARGATE"},
    config.BranchRule: {"pattern": "main"},
    config.HealthSettings: {"url": "https://service.example.org"},
    config.SmokeCheck: {"path": "/health"},
}


def _models() -> list[type[BaseModel]]:
    found, todo = [], [config._Model]
    while todo:
        model = todo.pop()
        found.append(model)
        todo.extend(model.__subclasses__())
    return [m for m in found if m is not config._Model]


def _scalars(annotation: object) -> set[type]:
    if typing.get_origin(annotation) is typing.Annotated:
        return _scalars(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return set().union(*(_scalars(arg) for arg in typing.get_args(annotation)))
    return {annotation} & {bool, int, float}


SCALAR_FIELDS = [(model, name, kinds) for model in _models()
                 for name, info in model.model_fields.items()
                 if (kinds := _scalars(info.annotation))]


def test_the_walk_finds_the_known_scalar_settings() -> None:
    names = {f"{model.__name__}.{name}" for model, name, _ in SCALAR_FIELDS}
    assert {"RepositoryDefaults.scan_on_push", "TagSettings.major", "TagSettings.latest",
            "ScanSettings.timeout", "CapacityProvider.weight",
            "EnvironmentSettings.container_port"} <= names


@pytest.mark.parametrize(("model", "name", "kinds"), SCALAR_FIELDS,
                         ids=[f"{m.__name__}.{n}" for m, n, _ in SCALAR_FIELDS])
@pytest.mark.parametrize("text", ["1", "true", "off", "yes"])
def test_a_string_is_never_read_as_a_boolean_or_a_number(model, name, kinds, text) -> None:
    with pytest.raises(ValidationError) as raised:
        model.model_validate({**REQUIRED.get(model, {}), name: text})
    assert raised.value.errors()[0]["loc"][0] == name


@pytest.mark.parametrize(("model", "name", "kinds"),
                         [f for f in SCALAR_FIELDS if bool not in f[2]],
                         ids=[f"{m.__name__}.{n}" for m, n, k in SCALAR_FIELDS if bool not in k])
def test_a_boolean_is_never_read_as_a_number(model, name, kinds) -> None:
    with pytest.raises(ValidationError):
        model.model_validate({**REQUIRED.get(model, {}), name: True})
