"""Task-definition templates: render, check against ECS's own model, normalize for diffs.

A template is RegisterTaskDefinition's JSON with Jinja placeholders (StrictUndefined, so a
typo is an error, not an empty string). In the spirit of ecspresso, templates call:

- `env("NAME", "default")` and `must_env("NAME")` for the environment;
- `secret_arn("name")` (Secrets Manager) and `ssm("/path")` (Parameter Store);
- `image`, the image being deployed, pinned by digest;
- `values.*` from `[environments.NAME.values]`, and `environment`, `service`, `cluster`,
  `account_id`, `region`, `version`.

Lookups and the template files themselves are injected (`TemplateSource`: a name to its text
and a display name), so rendering here does no I/O of its own.
"""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2
from botocore.session import get_session
from botocore.validate import ParamValidator
from markupsafe import Markup

from shipyard.errors import ConfigError

# Fields DescribeTaskDefinition returns that a registration does not take.
DESCRIBE_ONLY = ("taskDefinitionArn", "revision", "status", "requiresAttributes",
                 "compatibilities", "registeredAt", "registeredBy", "deregisteredAt")


class LookupFailed(Exception):
    """Raised inside a template by a lookup that found nothing; becomes a ConfigError."""


@dataclass(frozen=True)
class TemplateContext:
    """What a template can use."""

    variables: Mapping[str, Any]
    values: Mapping[str, Any]
    environ: Mapping[str, str]
    secret_arn: Callable[[str], str | None]
    parameter: Callable[[str], str | None]
    fix_hint: str = "define it in the environment's values"


# A template's name -> (its text, the name to show in messages), or None when it is missing.
TemplateSource = Callable[[str], "tuple[str, str] | None"]


def render_template(name: str, source: TemplateSource, context: TemplateContext
                    ) -> dict[str, Any]:
    """Render a task-definition template and parse it as JSON.

    Every failure is a ConfigError naming the template, the line and what is wrong.
    """
    shown: set[str] = set()

    def load(template: str) -> tuple[str, str, Callable[[], bool]] | None:
        found = source(template)
        if found is None:
            return None
        shown.add(found[1])
        return found[0], found[1], lambda: True

    path = (source(name) or ("", name))[1]
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(load), undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True, autoescape=False, finalize=_json_string_escape)
    environment.globals.update(_functions(context))
    try:
        text = environment.get_template(name).render(
            **context.variables, values=dict(context.values))
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or str(path)
        raise ConfigError(f"{where} line {exc.lineno}: template syntax error: {exc.message}; "
                          "fix the Jinja syntax") from exc
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(f"{path}: includes '{exc.name}', which does not exist next to it; "
                          "fix the include") from exc
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"{_where(exc, path, shown)}: {exc.message}; {context.fix_hint}"
                          ) from exc
    except LookupFailed as exc:
        raise ConfigError(f"{_where(exc, path, shown)}: {exc}") from exc
    except RecursionError as exc:
        # An include of itself, directly or through others, never ends.
        raise ConfigError(f"{path}: the includes form a loop (a template includes itself, "
                          "directly or through another); remove the include that closes it"
                          ) from exc
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as exc:
        # Only the position: the rendered text may hold secrets (ssm, env).
        raise ConfigError(f"{path}: the rendered template is not JSON ({exc.msg} at rendered "
                          f"line {exc.lineno} column {exc.colno}); fix the template") from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: the rendered template nests lists or objects hundreds of "
                          "levels deep; a task definition is a few levels deep, fix the "
                          "template") from exc
    if not isinstance(definition, dict):
        raise ConfigError(f"{path}: the rendered template is JSON but not an object; make it "
                          "one task-definition object {...}")
    return definition


def _json_string_escape(value: Any) -> Any:
    """Escape what a placeholder prints for a JSON string: a value holding `"` or a newline
    (a password from SSM, say) can then neither break the JSON nor add keys to it. Output
    of `tojson` (Markup) is already JSON and numbers print as they are."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return json.dumps(value)[1:-1]
    return value


def _functions(context: TemplateContext) -> dict[str, Callable[..., Any]]:
    def env(name: str, default: str = "") -> str:
        return context.environ.get(name, default)

    def must_env(name: str) -> str:
        if name not in context.environ:
            raise LookupFailed(f"must_env(\"{name}\"): {name} is not set; export it")
        return context.environ[name]

    def secret_arn(name: str) -> str:
        arn = context.secret_arn(name)
        if arn is None:
            raise LookupFailed(f"secret_arn(\"{name}\"): no such secret in Secrets Manager; "
                               "create it or fix the name")
        return arn

    def ssm(name: str) -> str:
        value = context.parameter(name)
        if value is None:
            raise LookupFailed(f"ssm(\"{name}\"): no such SSM parameter; create it or fix "
                               "the name")
        return value

    return {"env": env, "must_env": must_env, "secret_arn": secret_arn, "ssm": ssm}


def _where(exc: BaseException, path: str, templates: set[str]) -> str:
    """`file line N` from the template frames Jinja puts into the traceback."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in templates]
    if not frames:
        return str(path)
    frame = frames[-1]
    return f"{frame.filename} line {frame.lineno}"


@cache
def _register_shape() -> Any:
    model = get_session().get_service_model("ecs")
    return model.operation_model("RegisterTaskDefinition").input_shape


def model_problems(definition: Mapping[str, Any]) -> list[str]:
    """What botocore's own ECS model says is wrong with a RegisterTaskDefinition input."""
    report = ParamValidator().validate(dict(definition), _register_shape())
    if not report.has_errors():
        return []
    return [_value_free(report, error) for error in report._errors]


# botocore's report prints the offending value, and a rendered value may be a secret (an SSM
# SecureString in `cpu`): these kinds are told by the parameter's path and what it must be.
_VALUE_FREE = {
    "invalid type": "Invalid type for parameter {name} ({got}), valid types: {valid}",
    "invalid type for document": "Invalid type for document parameter {name} ({got}), "
                                 "valid types: {valid}",
    "invalid range": "Invalid value for parameter {name}, valid min value: {min}",
    "invalid length": "Invalid length for parameter {name}, valid min length: {min}",
    "unable to encode to json": "Invalid parameter {name}: must be JSON serializable",
}


# What an ECS field name looks like (camelCase letters and digits); only such a key is named.
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")


def _value_free(report: Any, error: tuple[str, str, dict[str, Any]]) -> str:
    """One line of botocore's report for `error`, never holding a rendered value."""
    kind, name, details = error
    if kind == "unknown field" and not _FIELD_NAME.fullmatch(str(details["unknown_param"])):
        # The key itself may be rendered text (`"{{ ssm('/db/password') }}": 1`).
        return (f"Unknown parameter in {name.lstrip('.') or 'input'}: a key that is not a "
                "field name (not shown: it may be a rendered value), must be one of: "
                f"{', '.join(details['valid_names'])}")
    template = _VALUE_FREE.get(kind)
    if template is None:  # missing or unknown keys, unions: names only, as botocore says them
        return " ".join(report._format_error(error).split())
    return template.format(name=name.lstrip(".") or "input",
                           got=type(details.get("param")).__name__,
                           valid=", ".join(details.get("valid_types", ())),
                           min=details.get("min_allowed"))


def registrable(described: Mapping[str, Any]) -> dict[str, Any]:
    """A described task definition as a registration input (describe-only fields dropped)."""
    return {k: v for k, v in described.items() if k not in DESCRIBE_ONLY}


def normalized(definition: Mapping[str, Any]) -> dict[str, Any]:
    """A canonical form for diffs: empty values and ECS's defaults dropped, lists that ECS
    keeps in any order sorted, so only real differences show."""
    result = _drop_empty_keys(registrable(definition))
    for container in result.get("containerDefinitions", []):
        if container.get("cpu") == 0:
            del container["cpu"]  # ECS reports an unset container cpu as 0
        container.setdefault("essential", True)  # and an unset essential as true
        for key in ("environment", "secrets"):
            if key in container:
                container[key] = sorted(container[key], key=lambda item: item.get("name", ""))
    for volume in result.get("volumes", []):
        efs = volume.get("efsVolumeConfiguration", {})
        if efs.get("rootDirectory") == "/":
            del efs["rootDirectory"]  # the default ECS reports for an unset root directory
    if "tags" in result:
        result["tags"] = sorted(result["tags"], key=lambda tag: tag.get("key", ""))
    return result


def _drop_empty_keys(mapping: Mapping[str, Any]) -> dict[str, Any]:
    cleaned = {k: _drop_empty(v) for k, v in mapping.items()}
    return {k: v for k, v in cleaned.items() if v not in (None, [], {}, "")}


def _drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        return _drop_empty_keys(value)
    if isinstance(value, list):
        return [_drop_empty(item) for item in value]
    return value
