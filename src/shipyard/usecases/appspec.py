"""`shipyard appspec`: generate an environment's CodeDeploy AppSpec, or check an AppSpec file.

Both ways end in the same validation (`shipyard.domain.appspec.validate_appspec`). Problems
come back in the result, every one of them, with the error to raise once they are shown:
`UsageError` for a file given to `--check`, `ConfigError` for an AppSpec generated from a bad
`[environments.NAME]`. Nothing is written unless validation passed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shipyard.adapters.files import write_atomically
from shipyard.adapters.text_files import read_user_text
from shipyard.config import Config
from shipyard.domain.appspec import (
    FORMATS,
    TASK_DEFINITION_PLACEHOLDER,
    build_appspec,
    parse_appspec,
    render_appspec,
    task_definition_problem,
    top_level_lines,
    validate_appspec,
)
from shipyard.errors import ConfigError, ShipyardError, UsageError


@dataclass(frozen=True)
class AppSpecOptions:
    """Flags of `shipyard appspec`: an environment to generate for, or a file to `--check`."""

    environment: str | None = None
    task_definition: str | None = None
    output_format: str | None = None  # None: json when --output ends in .json, else yaml
    output: Path | None = None
    check: Path | None = None


@dataclass(frozen=True)
class AppSpecResult:
    """What was generated or checked; `problems` and `failure` are empty when all is well."""

    subject: str  # the environment generated for, or the file checked
    checked: bool = False  # True for --check, False for a generated AppSpec
    document: Any = None
    text: str = ""
    output_format: str = "yaml"
    task_definition: str = ""
    written: Path | None = None
    problems: tuple[str, ...] = field(default=())
    problem_source: str = ""  # what each problem line is prefixed with
    failure: ShipyardError | None = None

    @property
    def placeholder(self) -> bool:
        return self.task_definition == TASK_DEFINITION_PLACEHOLDER

    def to_json(self) -> dict[str, Any]:
        if self.checked:
            return {"file": self.subject, "valid": not self.problems,
                    "problems": list(self.problems)}
        return {"environment": self.subject, "task_definition": self.task_definition,
                "placeholder": self.placeholder, "format": self.output_format,
                "output": str(self.written) if self.written else None,
                "appspec": self.document, "valid": not self.problems,
                "problems": list(self.problems)}


def run_appspec(options: AppSpecOptions, load_config: Callable[[], Config]) -> AppSpecResult:
    """Check `options.check`, or generate the AppSpec of `options.environment`.

    `load_config` is called only to generate, so `--check` works beside a broken
    shipyard.toml.
    """
    if options.check is not None:
        refused = [flag for flag, value in (("an environment", options.environment),
                                            ("--task-definition", options.task_definition),
                                            ("--output", options.output),
                                            ("--format", options.output_format)) if value]
        if refused:
            raise UsageError(f"--check reads a file and does not take {refused[0]}; "
                             "drop it, or drop --check to generate")
        return check_file(options.check)
    if not options.environment:
        raise UsageError("name the environment to generate for (shipyard appspec production), "
                         "or pass --check FILE")
    return _generate(options, load_config())


# An AppSpec is a few hundred bytes; a file far larger is not one.
_MAX_APPSPEC_BYTES = 1_000_000


def check_file(path: Path) -> AppSpecResult:
    """Validate the AppSpec in `path` (YAML or JSON, told apart by content)."""
    if not path.exists():
        raise UsageError(f"{path} does not exist; pass the AppSpec file to --check")
    text = read_user_text(path, limit=_MAX_APPSPEC_BYTES, error=UsageError,
                          fix="pass a YAML or JSON AppSpec file to --check")
    document, problems = parse_appspec(text)
    if document is not None:
        problems += validate_appspec(document, top_level_lines(text))
    failure = None
    if problems:
        failure = UsageError(f"{path} is not a valid ECS AppSpec: {_count(problems)} listed "
                             "above; fix them and check again")
    return AppSpecResult(subject=str(path), checked=True, document=document,
                         problems=tuple(problems),
                         problem_source=str(path), failure=failure)


def _generate(options: AppSpecOptions, config: Config) -> AppSpecResult:
    name = options.environment or ""
    settings = config.environment(name)
    if settings.deployment != "blue_green":
        raise UsageError(f"{name} deploys with rolling updates; AppSpecs are for blue_green "
                         f"environments (set deployment = \"blue_green\" in [environments.{name}] "
                         "to deploy it with CodeDeploy)")
    output_format = _output_format(options)
    task_definition = options.task_definition or TASK_DEFINITION_PLACEHOLDER
    if options.task_definition is not None and (problem := task_definition_problem(
            options.task_definition)):
        raise UsageError(f"--task-definition: {problem}")
    document = build_appspec(settings, task_definition)
    problems = tuple(validate_appspec(document))
    where = config.source_file or config.project_dir / "shipyard.toml"
    result = AppSpecResult(subject=name, document=document, output_format=output_format,
                           task_definition=task_definition, problems=problems,
                           problem_source=f"{where}: [environments.{name}]")
    if problems:
        return replace(result, failure=ConfigError(
            f"the AppSpec for {name} is invalid: {_count(problems)} listed above; fix "
            f"[environments.{name}] in {where}"))
    text = render_appspec(document, output_format, header=_header(name, task_definition))
    if options.output is None:
        return replace(result, text=text)
    try:
        write_atomically(options.output, text)
    except OSError as exc:
        raise UsageError(f"--output {options.output} cannot be written ({exc.strerror}); "
                         "pick a writable path") from exc
    return replace(result, text=text, written=options.output)


def _output_format(options: AppSpecOptions) -> str:
    if options.output_format is None:
        suffix = options.output.suffix.lower() if options.output else ""
        return "json" if suffix == ".json" else "yaml"
    if options.output_format not in FORMATS:
        raise UsageError(f"--format {options.output_format!r} is not yaml or json")
    return options.output_format


def _header(environment: str, task_definition: str) -> str:
    lines = [f"Generated by `shipyard appspec {environment}` from [environments.{environment}] "
             "in shipyard.toml:", "edit that and regenerate rather than editing this file."]
    if task_definition == TASK_DEFINITION_PLACEHOLDER:
        lines.append(f"The deploy step replaces {TASK_DEFINITION_PLACEHOLDER} with the "
                     "registered task definition's ARN.")
    return "\n".join(lines)


def _count(problems: list[str] | tuple[str, ...]) -> str:
    return f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
