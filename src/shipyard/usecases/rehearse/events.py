"""The five events a rehearsal plays, as GitHub would deliver them, and whether the workflow's
`on:` (branches, tags, types, paths) would start a run for one.

| EVENT          | github.event_name  | GITHUB_REF                  | paths checked against        |
|----------------|--------------------|-----------------------------|------------------------------|
| push-develop   | push               | refs/heads/develop          | the files HEAD^..HEAD changed|
| push-main      | push               | refs/heads/main             | the files HEAD^..HEAD changed|
| pull-request   | pull_request       | refs/pull/N/merge           | the files HEAD^..HEAD changed|
| release        | release (published)| refs/tags/<tag>             | not checked (GitHub doesn't) |
| dispatch       | workflow_dispatch  | refs/heads/<current branch> | not checked                  |
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.errors import GitError, UsageError
from shipyard.usecases.rehearse.workflow import Workflow, matches_filters

EVENTS = {"push-develop": "push", "push-main": "push", "pull-request": "pull_request",
          "release": "release", "dispatch": "workflow_dispatch"}


@dataclass(frozen=True)
class EventOptions:
    """What the command line says about the event; the rest is read from git."""

    event: str
    base: str = "main"  # pull-request: the branch it targets
    pull_request: int = 1
    tag: str | None = None  # release: the release's tag (default: a v* tag at HEAD)
    ref: str | None = None  # dispatch: the branch it runs on (default: the current one)
    inputs: Mapping[str, str] = field(default_factory=dict)
    changed_since: str | None = None  # paths: compare HEAD with this (default: HEAD^)


@dataclass(frozen=True)
class Event:
    key: str  # push-main ...
    name: str  # push, pull_request ...
    ref: str
    ref_name: str
    ref_type: str
    sha: str
    head_ref: str
    base_ref: str
    repository: str
    payload: dict[str, Any]
    inputs: dict[str, Any]
    changed: tuple[str, ...]


def _git(root: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False,
                          env={**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"})
    if check and done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise GitError(f"git {' '.join(args)} failed in {root}: {detail}")
    return done.stdout.strip()


def repository_root(folder: Path) -> Path:
    return Path(_git(folder, "rev-parse", "--show-toplevel"))


def _repository_name(root: Path) -> str:
    """owner/name from origin's URL, or local/<folder> when there is no origin."""
    url = _git(root, "remote", "get-url", "origin", check=False)
    tail = url.rstrip("/").removesuffix(".git").replace(":", "/").split("/")
    return "/".join(tail[-2:]) if len(tail) >= 2 and url else f"local/{root.name}"


def _changed(root: Path, since: str | None) -> tuple[str, ...]:
    if since is None:
        has_parent = _git(root, "rev-parse", "-q", "--verify", "HEAD^", check=False)
        if not has_parent:  # the first commit: every file is new
            return tuple(_git(root, "ls-tree", "-r", "--name-only", "HEAD").splitlines())
        since = "HEAD^"
    return tuple(_git(root, "diff", "--name-only", since, "HEAD").splitlines())


def build_event(root: Path, workflow: Workflow, options: EventOptions) -> Event:
    """The event's context, read from the repository at `root`; UsageError for bad options."""
    if options.event not in EVENTS:
        raise UsageError(f"event {options.event!r} is not one of {', '.join(EVENTS)}")
    name = EVENTS[options.event]
    sha = _git(root, "rev-parse", "HEAD")
    repository = _repository_name(root)
    branch = _git(root, "symbolic-ref", "--short", "-q", "HEAD", check=False) or "main"
    owner = repository.split("/")[0]
    base: dict[str, Any] = {"repository": {"full_name": repository, "name":
                                           repository.split("/")[-1], "owner": {"login": owner}},
                            "sender": {"login": "shipyard-rehearsal"}}
    head_ref = base_ref = ""
    inputs: dict[str, Any] = {}
    ref_type = "branch"
    if options.event in ("push-develop", "push-main"):
        ref_name = options.event.removeprefix("push-")
        ref = f"refs/heads/{ref_name}"
        payload = {**base, "ref": ref, "after": sha, "head_commit": {"id": sha}}
    elif options.event == "pull-request":
        ref_name = f"{options.pull_request}/merge"
        ref = f"refs/pull/{ref_name}"
        head_ref, base_ref = branch, options.base
        payload = {**base, "action": "synchronize", "number": options.pull_request,
                   "pull_request": {"number": options.pull_request,
                                    # a branch of this repository, not a fork's
                                    "head": {"ref": head_ref, "sha": sha,
                                             "repo": base["repository"]},
                                    "base": {"ref": base_ref}}}
    elif options.event == "release":
        ref_name = options.tag or _tag_at_head(root)
        ref, ref_type = f"refs/tags/{ref_name}", "tag"
        payload = {**base, "action": "published",
                   "release": {"tag_name": ref_name, "name": ref_name, "prerelease": False,
                               "draft": False, "target_commitish": sha}}
    else:
        ref_name = options.ref or branch
        ref = f"refs/heads/{ref_name}"
        inputs = dispatch_inputs(workflow, options.inputs)
        payload = {**base, "ref": ref, "inputs": inputs}
    if options.event != "dispatch" and options.inputs:
        raise UsageError("--input is for the dispatch event only")
    changed = () if name in ("release", "workflow_dispatch") else _changed(
        root, options.changed_since)
    return Event(key=options.event, name=name, ref=ref, ref_name=ref_name, ref_type=ref_type,
                 sha=sha, head_ref=head_ref, base_ref=base_ref, repository=repository,
                 payload=payload, inputs=inputs, changed=changed)


def _tag_at_head(root: Path) -> str:
    tags = _git(root, "tag", "--points-at", "HEAD", "--list", "v*").split()
    if not tags:
        raise UsageError("the release event needs its tag: pass --tag v1.2.0 (no v* tag "
                         "points at HEAD)")
    return sorted(tags)[-1]


def dispatch_inputs(workflow: Workflow, given: Mapping[str, str]) -> dict[str, Any]:
    """The workflow_dispatch inputs: given values, checked against the declared ones, with
    their defaults; a required input without a value or an unknown one is refused."""
    declared = (workflow.on.get("workflow_dispatch") or {}).get("inputs") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise UsageError(f"--input {unknown[0]} is not an input of the workflow's "
                         f"workflow_dispatch (it has: {', '.join(declared) or 'none'})")
    inputs: dict[str, Any] = {}
    for key, spec in declared.items():
        spec = spec or {}
        value: Any = given.get(key, spec.get("default"))
        if value is None or value == "":
            if spec.get("required"):
                raise UsageError(f"the dispatch input {key} is required: pass --input "
                                 f"{key}=VALUE")
            value = ""
        options = spec.get("options")
        if spec.get("type") == "choice" and options and str(value) not in map(str, options):
            raise UsageError(f"--input {key}={value} is not one of its choices: "
                             + ", ".join(map(str, options)))
        if spec.get("type") == "boolean":
            value = str(value).lower() == "true"
        inputs[key] = value
    return inputs


def triggered(workflow: Workflow, event: Event, *, check_paths: bool = True) -> str | None:
    """None when the workflow's `on:` starts a run for `event`, else why it does not."""
    if event.name not in workflow.on:
        return f"the workflow has no {event.name} trigger (on: {', '.join(workflow.on)})"
    spec = workflow.on[event.name] or {}
    if event.name == "release":
        types = spec.get("types") or []
        if types and "published" not in types:
            return f"on.release.types {types} does not include published"
        return None
    if event.name == "workflow_dispatch":
        return None
    if event.name == "push":
        branches, ignored = spec.get("branches"), spec.get("branches-ignore")
        if branches is None and ignored is None and spec.get("tags") is not None:
            return "on.push lists tags only, and this push is to a branch"
        if branches is not None and not matches_filters(event.ref_name, list(branches)):
            return f"on.push.branches {list(branches)} does not match {event.ref_name}"
        if ignored is not None and matches_filters(event.ref_name, list(ignored)):
            return f"on.push.branches-ignore {list(ignored)} matches {event.ref_name}"
    else:
        branches = spec.get("branches")
        if branches is not None and not matches_filters(event.base_ref, list(branches)):
            return (f"on.{event.name}.branches {list(branches)} does not match the base "
                    f"branch {event.base_ref}")
    return _paths(spec, event) if check_paths else None


def _paths(spec: Mapping[str, Any], event: Event) -> str | None:
    paths, ignored = spec.get("paths"), spec.get("paths-ignore")
    if paths is None and ignored is None:
        return None
    kept = [name for name in event.changed
            if (paths is None or matches_filters(name, list(paths)))
            and (ignored is None or not matches_filters(name, list(ignored)))]
    if kept:
        return None
    filters = list(paths) if paths is not None else [f"!{p}" for p in ignored or ()]
    return (f"no changed file ({len(event.changed)} changed since the compared commit) "
            f"matches on.{event.name}.paths {filters}; --ignore-paths runs it anyway")
