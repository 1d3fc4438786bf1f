"""CloudFormation's intrinsic functions: what a node refers to, and its value once known."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from shipyard_sandbox.provision.report import ProvisionError
from shipyard_sandbox.provision.template import text

NO_VALUE = object()  # AWS::NoValue: the key or list item disappears
_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_SUB_OPEN = re.compile(r"\$\{(?!!)[^}]+\}")


def is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and (
        "Ref" in value or next(iter(value)).startswith("Fn::"))


def references(node: Any, condition: Callable[[str], bool]) -> set[str]:
    """Names `node` refers to (Ref, Fn::GetAtt, Fn::Sub), following only the taken Fn::If
    branches."""
    found: set[str] = set()

    def walk(item: Any) -> None:
        if isinstance(item, list):
            for element in item:
                walk(element)
        if not isinstance(item, dict):
            return
        for key, value in item.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".", 1)[0])
            elif key == "Fn::Sub":
                template, variables = (value, {}) if isinstance(value, str) else value
                found.update(name.split(".", 1)[0] for name in _SUB_VARIABLE.findall(template)
                             if not name.startswith("!") and name not in variables)
                walk(variables)
            elif key == "Fn::If":
                walk(value[1] if condition(value[0]) else value[2])
            else:
                walk(value)

    walk(node)
    return found


class Resolver:
    """Evaluates intrinsic functions against known values.

    References to the `local` resources (those of the stack being derived) stay intrinsic, for
    moto's CloudFormation to resolve; everything else must be known, or it is an error.
    """

    def __init__(self, template: dict[str, Any], refs: dict[str, Any],
                 attribute: Callable[[str, str], Any]) -> None:
        self.refs = refs
        self.attribute = attribute
        self._definitions = template.get("Conditions", {})
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self._definitions:
                raise ProvisionError(f"condition {name} is not defined in the template")
            self._conditions[name] = self._truth(self._definitions[name])
        return self._conditions[name]

    def _truth(self, node: Any) -> bool:
        (function, argument), = node.items()
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::Equals":
            left, right = (self.value(item) for item in argument)
            return (text(left) == text(right) if not isinstance(left, list)
                    else left == right)
        if function == "Fn::Not":
            return not self._truth(argument[0])
        if function == "Fn::And":
            return all(self._truth(item) for item in argument)
        if function == "Fn::Or":
            return any(self._truth(item) for item in argument)
        raise ProvisionError(f"{function} is not a condition function")

    def value(self, node: Any, local: frozenset[str] = frozenset()) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(item, local) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if is_intrinsic(node):
            (function, argument), = node.items()
            handler = _FUNCTIONS.get(function)
            if handler is None:
                raise ProvisionError(f"{function} is not supported by the sandbox provisioner")
            return handler(self, argument, local)
        resolved = {key: self.value(item, local) for key, item in node.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _ref(self, name: str, local: frozenset[str]) -> Any:
        if name in local:
            return {"Ref": name}
        if name == "AWS::NoValue":
            return NO_VALUE
        if name not in self.refs:
            raise ProvisionError(f"Ref {name}: not a parameter or a resource created so far")
        return self.refs[name]

    def _get_att(self, argument: Any, local: frozenset[str]) -> Any:
        name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        if name in local:
            return {"Fn::GetAtt": [name, attribute]}
        return self.attribute(name, attribute)

    def _sub(self, argument: Any, local: frozenset[str]) -> Any:
        template, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {key: self.value(item, local) for key, item in variables.items()}
        kept: dict[str, Any] = {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return match.group(0)
            if name in values:
                if is_intrinsic(values[name]):
                    kept[name] = values[name]
                    return match.group(0)
                return text(values[name])
            if name.split(".", 1)[0] in local:
                return match.group(0)
            if "." in name:
                return text(self._get_att(name, local))
            return text(self._ref(name, local))

        result = _SUB_VARIABLE.sub(replace, template)
        if _SUB_OPEN.search(result):  # moto's CloudFormation finishes it
            return {"Fn::Sub": [result, kept] if kept else result}
        return result.replace("${!", "${")

    def _join(self, argument: Any, local: frozenset[str]) -> Any:
        separator, items = argument[0], self.value(argument[1], local)
        if isinstance(items, list) and not any(is_intrinsic(item) for item in items):
            return separator.join(text(item) for item in items)
        return {"Fn::Join": [separator, items]}

    def _select(self, argument: Any, local: frozenset[str]) -> Any:
        index, items = self.value(argument[0], local), self.value(argument[1], local)
        if isinstance(items, list) and not is_intrinsic(index):
            return items[int(index)]
        return {"Fn::Select": [index, items]}

    def _split(self, argument: Any, local: frozenset[str]) -> Any:
        joined = self.value(argument[1], local)
        return joined.split(argument[0]) if isinstance(joined, str) else {
            "Fn::Split": [argument[0], joined]}

    def _if(self, argument: Any, local: frozenset[str]) -> Any:
        name, when_true, when_false = argument
        return self.value(when_true if self.condition(name) else when_false, local)

    def _get_azs(self, argument: Any, local: frozenset[str]) -> Any:
        region = self.value(argument, local) or self.refs["AWS::Region"]
        return [f"{region}{zone}" for zone in "abc"]


_FUNCTIONS: dict[str, Callable[[Resolver, Any, frozenset[str]], Any]] = {
    "Ref": Resolver._ref, "Fn::GetAtt": Resolver._get_att, "Fn::Sub": Resolver._sub,
    "Fn::Join": Resolver._join, "Fn::Select": Resolver._select,
    "Fn::Split": Resolver._split, "Fn::If": Resolver._if, "Fn::GetAZs": Resolver._get_azs,
}
