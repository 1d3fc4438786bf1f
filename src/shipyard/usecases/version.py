"""`shipyard version`: the release version for this commit, optionally written and tagged."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import semver

from shipyard.adapters.files import stage_file
from shipyard.adapters.git import Git
from shipyard.adapters.github import ActionsContext
from shipyard.adapters.text_files import read_user_text
from shipyard.config import Config
from shipyard.domain.versioning import (
    BUMP_PARTS,
    Bump,
    RefFacts,
    VersionDecision,
    decide_version,
    highest_release_tag,
    is_stable,
    parse_semver,
    version_from_tag,
)
from shipyard.errors import ConflictError, GitError, UsageError, VersionFileError
from shipyard.usecases.source import SourceContext, read_source_context


@dataclass(frozen=True)
class VersionOptions:
    """Flags of `shipyard version` (and the version flags other commands share)."""

    manual: str | None = None
    bump: str | None = None
    write: bool = False
    git_tag: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class VersionResult:
    """The decided version, the checkout it was decided for, and what was written."""

    decision: VersionDecision
    source: SourceContext | None
    tag_name: str
    written_file: Path | None = None
    created_tag: str | None = None
    created_commit: str | None = None  # the commit that recorded version.txt (--write --git-tag)
    dry_run: bool = False
    warnings: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        d = self.decision
        return {
            "version": str(d.version),
            "previous": str(d.previous) if d.previous else None,
            "bump": d.bump,
            "source": d.source,
            "branch": self.source.branch if self.source else None,
            "sha": self.source.sha if self.source else None,
            "commit": self.created_commit,
            "prerelease": d.prerelease,
        }


def compute_version(
    options: VersionOptions, config: Config, git: Git, actions: ActionsContext | None
) -> VersionResult:
    """Decide the version; with `write`/`git_tag` also record it, after every check passed."""
    manual = _parse_manual(options.manual)
    bump = _parse_bump(options.bump)
    if manual is not None and bump is not None:
        raise UsageError("--version and --bump contradict each other; pass only one of them")

    in_repository = git.is_repository()
    if not in_repository and options.git_tag:
        raise GitError(f"--git-tag needs a git repository, and {config.project_dir} is not inside "
                       "one; run it in a clone, or drop --git-tag")
    if not in_repository and manual is None:
        git.require_repository()  # raises the clear "not a git repository" error
    warnings: list[str] = []
    source = None
    if in_repository:
        git.require_repository()
        source = read_source_context(git, actions, config.version.tag_prefix,
                                     manual_version=manual is not None)
        if source.shallow:
            warnings.append(
                "this is a shallow clone: tags and commit counts may be missing; "
                "fetch the full history (actions/checkout with fetch-depth: 0)"
            )

    file_version = read_version_file(config.version_file, required=manual is None)
    base, base_tag = file_version, None
    if in_repository:
        base, base_tag = _highest_base(git, config.version.tag_prefix, file_version, warnings)

    def commits_since_base() -> int:
        if base_tag is not None:
            return git.commits_since(base_tag)
        return git.commits_since(git.last_commit_touching(config.version_file))

    decision = decide_version(
        base=base,
        facts=source.facts if source else RefFacts(branch=None),
        settings=config.version,
        commits_since_base=commits_since_base,
        manual=manual,
        bump=bump,
    )
    tag_name = f"{config.version.tag_prefix}{decision.version}"
    result = VersionResult(decision, source, tag_name, dry_run=options.dry_run,
                           warnings=tuple(warnings))
    return _record(result, options, config, git)


def _parse_bump(text: str | None) -> Bump | None:
    if text is None:
        return None
    for part in BUMP_PARTS:
        if text == part:
            return part
    raise UsageError(f"--bump {text!r} is not a version part; use major, minor or patch")


def _parse_manual(text: str | None) -> semver.Version | None:
    return None if text is None else parse_manual(text)


def parse_manual(text: str) -> semver.Version:
    """A `--version` flag's value as a version, or a UsageError saying what one looks like."""
    version = parse_semver(text)
    if version is None:
        raise UsageError(
            f"--version {text!r} is not a semantic version; use X.Y.Z such as 1.2.3 "
            "(a prerelease like 1.2.3-rc.1 and a leading 'v' are accepted)"
        )
    return version


def read_version_file(path: Path, *, required: bool = True) -> semver.Version | None:
    """The stable version in `path`; None only when it is missing and not `required`."""
    if not path.exists():
        if path.is_symlink():  # "missing" would send one looking for a file that is there
            raise VersionFileError(f"{path} is a symbolic link to {os.readlink(path)}, which "
                                   "does not exist; point it at the version file or replace it")
        if not required:
            return None
        raise VersionFileError(
            f"{path} is missing; create it holding the current release, such as 1.0.0"
        )
    text = _version_text(path)
    if not text:
        raise VersionFileError(f"{path} is empty; write the current release in it, such as 1.0.0")
    lines = text.splitlines()
    if len(lines) > 1:
        raise VersionFileError(f"{path} holds {len(lines)} lines; write only the version, on "
                               "one line, such as 1.0.0")
    version = parse_semver(text) if not text.startswith(("v", "V")) else None
    if version is None or not is_stable(version) or version.build is not None:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise VersionFileError(
            f"{path} holds {shown!r}, not a stable version X.Y.Z; write one such as 1.0.0"
        )
    return version


# A version file is a few bytes; reading more than this only proves it is something else.
_VERSION_FILE_MAX = 1024


def _version_text(path: Path) -> str:
    """The version file's text, stripped; what is not a small UTF-8 text file says so."""
    return read_user_text(path, limit=_VERSION_FILE_MAX, error=VersionFileError,
                          fix="write the version in it as text, such as 1.0.0").strip()


def _highest_base(
    git: Git, prefix: str, file_version: semver.Version | None, warnings: list[str]
) -> tuple[semver.Version | None, str | None]:
    """R = the higher of the version file and the highest stable release tag reachable."""
    stable_tags: list[str] = []
    ignored: list[str] = []
    for tag in git.tags_reachable():
        version = version_from_tag(tag, prefix)
        if version is None:
            if tag.startswith(prefix):
                ignored.append(tag)
        elif is_stable(version):
            stable_tags.append(tag)
    if ignored:
        more = f" and {len(ignored) - 3} more" if len(ignored) > 3 else ""
        shown = ", ".join(ignored[:3]) + more
        warnings.append(f"ignored tags that are not '{prefix}<semver>': {shown}")
    best = highest_release_tag(stable_tags, prefix)
    if best is None:
        return file_version, None
    tag, tag_version = best
    if file_version is not None and file_version > tag_version:
        return file_version, None
    return tag_version, tag


def _record(result: VersionResult, options: VersionOptions, config: Config, git: Git
            ) -> VersionResult:
    """Write the version file and the git tag, or say what would be written on a dry run."""
    if not (options.write or options.git_tag):
        return result
    version = result.decision.version
    if options.write and (not is_stable(version) or version.build):
        what = "a prerelease" if not is_stable(version) else "build metadata"
        raise UsageError(
            f"--write needs a stable version X.Y.Z but {version} has {what}; "
            "pass --version or --bump, or drop --write"
        )
    if options.git_tag and git.tag_exists(result.tag_name):
        raise ConflictError(
            f"git tag {result.tag_name} already exists; this version is released, "
            "choose another with --version or --bump"
        )
    written = config.version_file if options.write else None
    created = result.tag_name if options.git_tag else None
    # With both, the tag must name a commit whose version file holds the version: the file
    # is committed first, then that commit is tagged (the file alone changing is no release).
    old_text = _read_or_none(config.version_file)
    commit = bool(written and created and old_text != f"{version}\n")
    if commit:
        git.require_committable(config.version_file)
    if options.dry_run:
        return replace(result, written_file=written, created_tag=created,
                       created_commit="(dry run)" if commit else None)
    staged = stage_file(config.version_file, f"{version}\n") if written else None
    if not commit:
        try:
            if created:
                git.create_annotated_tag(created, f"Release {version}")
        except BaseException:
            if staged:
                staged.unlink(missing_ok=True)
            raise
        if staged:
            os.replace(staged, config.version_file)
        return replace(result, written_file=written, created_tag=created)
    assert staged is not None and created is not None
    os.replace(staged, config.version_file)
    try:
        sha = git.commit_paths([config.version_file], f"Release {version}")
    except BaseException:
        _restore(config.version_file, old_text)
        raise
    git.create_annotated_tag(created, f"Release {version}")
    return replace(result, written_file=written, created_tag=created, created_commit=sha)


def _read_or_none(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _restore(path: Path, text: str | None) -> None:
    if text is None:
        path.unlink(missing_ok=True)
    else:
        staged = stage_file(path, text)
        os.replace(staged, path)
