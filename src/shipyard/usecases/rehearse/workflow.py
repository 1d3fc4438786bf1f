"""A workflow file read into jobs and steps, checked before anything runs.

Every `${{ }}` of the file is parsed up front (outside `on:`), so an expression the
rehearsal cannot evaluate stops it before the first step, naming where it is.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shipyard.errors import UsageError
from shipyard.usecases.rehearse.expressions import ExpressionError, condition, parse, templates

DEFAULT_JOB_MINUTES = 360.0  # GitHub's default timeout-minutes


@dataclass(frozen=True)
class Step:
    index: int
    name: str
    id: str
    run: str | None
    uses: str | None
    with_: Mapping[str, Any]
    env: Mapping[str, Any]
    if_: Any
    shell: str | None
    working_directory: str | None
    continue_on_error: Any
    timeout_minutes: Any


@dataclass(frozen=True)
class Job:
    id: str
    name: str
    needs: tuple[str, ...]
    if_: Any
    outputs: Mapping[str, Any]
    environment: str | None
    environment_url: str | None
    env: Mapping[str, Any]
    steps: tuple[Step, ...]
    timeout_minutes: Any
    defaults: Mapping[str, Any]
    matrix: tuple[Mapping[str, Any], ...] = ({},)


@dataclass(frozen=True)
class Workflow:
    path: Path
    name: str
    on: Mapping[str, Any]
    env: Mapping[str, Any]
    defaults: Mapping[str, Any]
    jobs: Mapping[str, Job] = field(default_factory=dict)

    def order(self) -> list[Job]:
        """The jobs in an order where each comes after what it needs (file order otherwise)."""
        return [self.jobs[name] for name in job_order(
            {name: job.needs for name, job in self.jobs.items()})]


def job_order(needs: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Names ordered so each follows all it needs; ties keep the given order.

    >>> job_order({"deploy": ("build",), "build": ("test",), "test": ()})
    ['test', 'build', 'deploy']
    """
    for name, wanted in needs.items():
        for other in wanted:
            if other not in needs:
                raise UsageError(f"job {name} needs {other!r}, which the workflow does not "
                                 "define; fix its needs:")
    done: list[str] = []
    waiting = list(needs)
    while waiting:
        ready = next((name for name in waiting if all(n in done for n in needs[name])), None)
        if ready is None:
            raise UsageError("jobs " + ", ".join(waiting) + " need each other in a cycle; "
                             "fix their needs:")
        done.append(ready)
        waiting.remove(ready)
    return done


def load_workflow(path: Path) -> Workflow:
    """Read and check a workflow file; UsageError (one line) when it cannot be rehearsed."""
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"workflow {path} does not exist; pass --workflow PATH") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"workflow {path} cannot be read: "
                         f"{str(exc).splitlines()[0]}") from None
    if not isinstance(document, dict) or not isinstance(document.get("jobs"), dict):
        raise UsageError(f"workflow {path} has no jobs: mapping; pass a GitHub Actions "
                         "workflow file")
    # YAML 1.1 reads the key `on` as true.
    on = document.get("on", document.get(True))
    for where, text in _strings(
            {key: value for key, value in document.items() if key not in ("on", True)}):
        _check_expressions(path, where, text)
    jobs = {str(name): _job(path, str(name), body) for name, body in document["jobs"].items()}
    workflow = Workflow(path=path, name=str(document.get("name") or path.name), on=_on(on),
                        env=_mapping(document.get("env")),
                        defaults=_mapping(document.get("defaults")), jobs=jobs)
    workflow.order()  # unknown needs and cycles stop here
    return workflow


def _check_expressions(path: Path, where: str, text: str) -> None:
    try:
        if where.endswith(".if"):
            condition(text)
            return
        for _, _, source in templates(text):
            parse(source)
    except ExpressionError as exc:
        raise UsageError(f"{path}: {where}: {exc}") from None


def _strings(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")
    elif isinstance(value, str) and ("${{" in value or where.endswith(".if")):
        yield where, value


def _on(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {value: {}}
    if isinstance(value, list):
        return {str(item): {} for item in value}
    if isinstance(value, dict):
        return {str(key): item or {} for key, item in value.items()}
    return {}


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _job(path: Path, name: str, body: Any) -> Job:
    if not isinstance(body, dict):
        raise UsageError(f"{path}: jobs.{name} is not a mapping")
    if "uses" in body:
        raise UsageError(f"{path}: jobs.{name} calls a reusable workflow ({body['uses']}), "
                         "which the rehearsal does not run")
    needs = body.get("needs") or ()
    environment = body.get("environment")
    url = None
    if isinstance(environment, dict):
        url = environment.get("url")
        environment = environment.get("name")
    steps = tuple(_step(path, name, index, step)
                  for index, step in enumerate(body.get("steps") or ()))
    return Job(id=name, name=str(body.get("name") or name),
               needs=(needs,) if isinstance(needs, str) else tuple(needs),
               if_=body.get("if"), outputs=_mapping(body.get("outputs")),
               environment=None if environment is None else str(environment),
               environment_url=None if url is None else str(url),
               env=_mapping(body.get("env")), steps=steps,
               timeout_minutes=body.get("timeout-minutes", DEFAULT_JOB_MINUTES),
               defaults=_mapping(body.get("defaults")),
               matrix=_matrix(path, name, (body.get("strategy") or {}).get("matrix")))


def _step(path: Path, job: str, index: int, body: Any) -> Step:
    if not isinstance(body, dict) or ("run" in body) == ("uses" in body):
        raise UsageError(f"{path}: jobs.{job}.steps[{index}] needs exactly one of run: "
                         "and uses:")
    uses = body.get("uses")
    run = body.get("run")
    name = body.get("name") or (f"Run {str(run).splitlines()[0]}" if run else str(uses))
    return Step(index=index, name=str(name), id=str(body.get("id") or f"__step{index}"),
                run=None if run is None else str(run), uses=None if uses is None else str(uses),
                with_=_mapping(body.get("with")), env=_mapping(body.get("env")),
                if_=body.get("if"), shell=body.get("shell"),
                working_directory=body.get("working-directory"),
                continue_on_error=body.get("continue-on-error", False),
                timeout_minutes=body.get("timeout-minutes"))


def _matrix(path: Path, job: str, matrix: Any) -> tuple[Mapping[str, Any], ...]:
    """Each combination of a matrix of lists; include/exclude and expressions are refused."""
    if matrix is None:
        return ({},)
    if not isinstance(matrix, dict) or any(
            key in ("include", "exclude") or not isinstance(values, list)
            for key, values in matrix.items()):
        raise UsageError(f"{path}: jobs.{job}.strategy.matrix: the rehearsal runs a matrix "
                         "of plain lists only (no include/exclude or expressions)")
    keys = list(matrix)
    return tuple(dict(zip(keys, values, strict=True))
                 for values in itertools.product(*(matrix[key] for key in keys)))


def filter_pattern(pattern: str) -> re.Pattern[str]:
    """A branch, tag or path filter of `on:` as GitHub matches it: `*` within a path segment,
    `**` across segments, `?` one character (`[...]` and `+` as in a regular expression).

    >>> bool(filter_pattern("GamePulse/**").fullmatch("GamePulse/app/main.py"))
    True
    >>> bool(filter_pattern("release/*").fullmatch("release/a/b"))
    False
    """
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char in "[]+":
            out.append(char)
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out))


def matches_filters(value: str, patterns: list[str]) -> bool:
    """Whether `value` passes a list of patterns, later `!pattern`s excluding it again."""
    matched = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if filter_pattern(pattern[1:] if negated else pattern).fullmatch(value):
            matched = not negated
    return matched
