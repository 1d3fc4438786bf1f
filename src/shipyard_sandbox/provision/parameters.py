"""The template's parameters: the given values checked against their declarations and typed;
VPC and subnet parameters left out come from a network made for the purpose."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from shipyard_sandbox.provision.report import ProvisionError
from shipyard_sandbox.provision.template import text

NETWORK_TYPES = ("AWS::EC2::VPC::Id", "AWS::EC2::Subnet::Id", "List<AWS::EC2::Subnet::Id>")


def parameter_values(template: dict[str, Any], given: dict[str, str],
                     network: Callable[[], tuple[str, list[str]]]) -> dict[str, Any]:
    """Every declared parameter's value; `network()` (a VPC and its subnets) is called only
    when the network parameters are all left out, and after every other check passed."""
    declared: dict[str, dict[str, Any]] = template.get("Parameters", {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ProvisionError(f"parameter {unknown[0]} is not declared by the template; it "
                             f"declares {', '.join(declared) or 'none'}")
    raw = {name: given.get(name, spec.get("Default")) for name, spec in declared.items()}
    networked = [name for name, spec in declared.items() if spec.get("Type") in NETWORK_TYPES]
    for name, spec in declared.items():  # checked before anything is made
        if raw[name] is None and name not in networked:
            raise ProvisionError(f"parameter {name} has no default; pass {name}=VALUE "
                                 f"({spec.get('Description', spec.get('Type', ''))})")
    missing = [name for name in networked if raw[name] is None]
    if missing and len(missing) < len(networked):
        raise ProvisionError(f"pass {', '.join(missing)} too, or none of {', '.join(networked)} "
                             "(the sandbox then makes its own network)")
    values = {name: typed(name, spec, raw[name]) for name, spec in declared.items()
              if raw[name] is not None}
    if missing:
        vpc, subnets = network()
        for name in missing:
            kind = declared[name]["Type"]
            values[name] = vpc if kind == "AWS::EC2::VPC::Id" else (
                subnets[0] if kind == "AWS::EC2::Subnet::Id" else subnets)
    return values


def typed(name: str, spec: dict[str, Any], raw: Any) -> Any:
    """A parameter's value as CloudFormation passes it on, checked against its constraints."""
    kind, value = spec.get("Type", "String"), text(raw)
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [text(a) for a in allowed]:
        raise ProvisionError(f"parameter {name}={value} is not one of {allowed}")
    pattern = spec.get("AllowedPattern")
    if pattern and not re.fullmatch(pattern, value):
        raise ProvisionError(f"parameter {name}={value} does not match {pattern}")
    if kind.startswith("List<") or kind == "CommaDelimitedList":
        return [item.strip() for item in value.split(",") if item.strip()]
    if kind == "Number":
        try:
            number = float(value)
        except ValueError:
            raise ProvisionError(f"parameter {name}={value} is not a number") from None
        for bound, fails in (("MinValue", number.__lt__), ("MaxValue", number.__gt__)):
            if bound in spec and fails(float(spec[bound])):
                raise ProvisionError(f"parameter {name}={value} is outside {bound} {spec[bound]}")
        return int(number) if number.is_integer() else number
    return value
