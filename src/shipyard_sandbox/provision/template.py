"""Reading a CloudFormation template: YAML or JSON, short forms (`!Ref`) as long forms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from shipyard_sandbox.provision.report import ProvisionError


class _TemplateLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (`!Ref`, `!GetAtt A.B`, ...) as their long forms;
    dates stay strings, as CloudFormation reads them."""


_TemplateLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_TemplateLoader.add_multi_constructor("!", _short_form)


def load_template(path: Path) -> dict[str, Any]:
    """A YAML or JSON CloudFormation template as plain data, intrinsics in their long form."""
    try:
        body = yaml.load(path.read_text(), Loader=_TemplateLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise ProvisionError(f"cannot read the template {path}: {exc}") from exc
    if not isinstance(body, dict) or not isinstance(body.get("Resources"), dict):
        raise ProvisionError(f"{path} is not a CloudFormation template (no Resources)")
    return body


def text(value: Any) -> str:
    """A scalar as CloudFormation turns it into text (`true`, not `True`)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    raise ProvisionError(f"cannot use {value!r} as text in the template")


def as_list(value: Any) -> list[str]:
    """`DependsOn`, which is one name or a list of names, as a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
