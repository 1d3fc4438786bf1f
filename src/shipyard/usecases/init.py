"""`shipyard init`: scaffold shipyard.toml, version.txt, the task-definition templates and the
AppSpecs of a new service, ready for `render` and `verify`.

Every check comes first: the folder, the answers, the generated shipyard.toml against the
config models, each AppSpec against the AppSpec validator, and every file we would write.
Only then, unless it is a dry run, are the files written: each is staged beside its target,
and the renames happen once all are staged, so a failure leaves the folder as it was.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.adapters.files import stage_file
from shipyard.config import CONFIG_FILE_NAME, Config
from shipyard.domain.resource_names import name_from_folder
from shipyard.domain.scaffold import (
    CPU_ARCHITECTURES,
    DEFAULT_ENVIRONMENTS,
    DEFAULT_HEALTH_PATH,
    DEFAULT_PORT,
    DEFAULT_REGION,
    VERSION_PATH,
    ScaffoldAnswers,
    answers_problems,
    appspec_paths,
    default_blue_green,
    scaffold_files,
)
from shipyard.errors import ConfigError, ConflictError, ShipyardError, UsageError
from shipyard.usecases.appspec import AppSpecOptions, run_appspec
from shipyard.usecases.version import read_version_file


@dataclass(frozen=True)
class InitOptions:
    """Flags of `shipyard init`; None (or an empty tuple) means the default."""

    name: str | None = None
    region: str | None = None
    repository: str | None = None
    cluster: str | None = None
    port: int | None = None
    cpu_architecture: str | None = None
    health_path: str | None = None
    environments: tuple[str, ...] = ()
    blue_green: tuple[str, ...] | None = None  # () means every environment rolls
    force: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class InitResult:
    """What was written (or would be, in a dry run), and what a newcomer should know."""

    project_dir: Path
    answers: ScaffoldAnswers
    files: dict[str, str]  # relative path -> text, in the order written
    overwritten: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()  # files left as they were (a valid version.txt)
    version: str = ""
    notes: tuple[str, ...] = field(default=())
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        answers = self.answers
        data = {
            "project_dir": str(self.project_dir), "dry_run": self.dry_run,
            "written": list(self.files), "overwritten": list(self.overwritten),
            "kept": list(self.kept), "version": self.version,
            "service": {"name": answers.name, "region": answers.region,
                        "repository": answers.repository_name,
                        "cluster": answers.cluster_name, "port": answers.port,
                        "cpu_architecture": answers.cpu_architecture,
                        "health_path": answers.health_path,
                        "environments": list(answers.environments),
                        "blue_green": list(answers.blue_green)},
            "notes": list(self.notes),
        }
        if self.dry_run:
            data["contents"] = self.files
        return data


def default_name(project_dir: Path) -> str:
    """The service name `init` proposes: the folder's name, made a valid ECR name."""
    return name_from_folder(project_dir.resolve().name)


def resolve_answers(options: InitOptions, project_dir: Path) -> ScaffoldAnswers:
    """The options with every default applied (names follow the service name)."""
    name = options.name if options.name is not None else default_name(project_dir)
    environments = options.environments or DEFAULT_ENVIRONMENTS
    blue_green = (options.blue_green if options.blue_green is not None
                  else default_blue_green(environments))
    architecture = options.cpu_architecture or "X86_64"
    if architecture.upper() in CPU_ARCHITECTURES:  # x86_64 and arm64 are meant the same
        architecture = architecture.upper()
    return ScaffoldAnswers(
        name=name, region=options.region or DEFAULT_REGION,
        repository=options.repository or "", cluster=options.cluster or "",
        port=options.port if options.port is not None else DEFAULT_PORT,
        cpu_architecture=architecture,
        health_path=options.health_path or DEFAULT_HEALTH_PATH,
        environments=environments, blue_green=tuple(dict.fromkeys(blue_green)))


def init_project(options: InitOptions, project_dir: Path) -> InitResult:
    """Check everything, then write the project's files into `project_dir` (unless dry run)."""
    folder = project_dir.resolve()
    if not folder.is_dir():
        raise ConfigError(f"project folder {folder} does not exist; create it first or pass "
                          "an existing folder to -C")
    answers = resolve_answers(options, folder)
    problems = answers_problems(answers)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UsageError(problems[0] + more)
    files = scaffold_files(answers)
    config = _validated_config(files[CONFIG_FILE_NAME], folder)
    for environment, path in appspec_paths(answers).items():
        files[path] = _appspec_text(environment, config)
    kept, version = _existing_version(folder / VERSION_PATH)
    if kept:
        del files[VERSION_PATH]
    overwritten = _conflicts(folder, files, options.force)
    _check_writable(folder, files)
    notes = () if (folder / "Dockerfile").exists() else (
        f"no Dockerfile in {folder}: `shipyard push` builds from one (build.dockerfile in "
        "shipyard.toml); init does not write one",)
    result = InitResult(folder, answers, files, tuple(overwritten), kept,
                        version or files[VERSION_PATH].strip(), notes, options.dry_run)
    if not options.dry_run:
        _write_all(folder, files)
    return result


def _validated_config(text: str, folder: Path) -> Config:
    """Our own shipyard.toml, read as `load_config` reads it: if it ever fails, that is a bug."""
    try:
        return Config.model_validate({**tomllib.loads(text), "project_dir": folder,
                                      "source_file": folder / CONFIG_FILE_NAME})
    except ValueError as exc:  # tomllib's and pydantic's errors are both ValueErrors
        raise ShipyardError(f"the generated shipyard.toml does not validate ({exc}); please "
                            "report this with the flags you used") from exc


def _appspec_text(environment: str, config: Config) -> str:
    """The AppSpec exactly as `shipyard appspec ENV` makes it from this configuration."""
    result = run_appspec(AppSpecOptions(environment=environment), lambda: config)
    if result.failure is not None:
        raise ShipyardError(f"the generated AppSpec for {environment} is invalid "
                            f"({'; '.join(result.problems)}); please report this")
    return result.text


def _existing_version(path: Path) -> tuple[tuple[str, ...], str]:
    """A valid version file is kept as it is; an invalid one is a file we would overwrite."""
    if not path.is_file():
        return (), ""
    try:
        version = read_version_file(path)
    except ShipyardError:
        return (), ""
    return (VERSION_PATH,), str(version)


def _conflicts(folder: Path, files: dict[str, str], force: bool) -> list[str]:
    """The files that exist (overwritten with `force`); a folder in the way is never replaced."""
    existing = []
    for relative in files:
        target = folder / relative
        for parent in reversed(target.relative_to(folder).parents[:-1]):
            if (folder / parent).exists() and not (folder / parent).is_dir():
                raise ConflictError(f"{folder / parent} is a file, and init writes "
                                    f"{relative} inside a folder of that name; move it away")
        if target.is_dir():
            raise ConflictError(f"{target} is a folder, and init writes a file there; move it "
                                "away")
        if target.exists() or target.is_symlink():
            existing.append(relative)
    if existing and not force:
        verb = "exists" if len(existing) == 1 else "exist"
        why = f" ({VERSION_PATH} holds no stable X.Y.Z to keep)" if VERSION_PATH in existing \
            else ""
        raise ConflictError(f"{', '.join(existing)} already {verb} in {folder}{why}; pass "
                            "--force to overwrite")
    return existing


def _check_writable(folder: Path, files: dict[str, str]) -> None:
    for relative in files:
        place = (folder / relative).parent
        while not place.exists():
            place = place.parent
        if not os.access(place, os.W_OK | os.X_OK):
            raise UsageError(f"cannot write in {place} (permission denied); fix its "
                             "permissions or pick another folder with -C")


def _write_all(folder: Path, files: dict[str, str]) -> None:
    """Stage every file, then rename each into place; undo the staging if any step fails."""
    created = [parent for relative in files
               for parent in reversed((folder / relative).parents)
               if parent.is_relative_to(folder) and not parent.exists()]
    staged: list[tuple[Path, Path]] = []
    try:
        for relative, text in files.items():
            target = folder / relative
            staged.append((stage_file(target, text), target))
    except OSError as exc:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        for directory in reversed(dict.fromkeys(created)):
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()
        raise UsageError(f"cannot write in {folder} ({exc.strerror}); nothing was written, "
                         "fix the folder and run init again") from exc
    for temporary, target in staged:
        os.replace(temporary, target)
