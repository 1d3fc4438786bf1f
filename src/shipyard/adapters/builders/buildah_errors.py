"""Buildah's stderr, turned into one of our errors with a one-line message and a fix.

Buildah ends a failed build with `Error: building at STEP "<instruction>": <reason>`; for a
Containerfile it cannot parse it appends a Go dump of the step (`&imagebuilder.Step{...}`)
whose `Original:"..."` field holds the line as written. We keep the step and the reason,
find the step's line number in the Containerfile when exactly one line matches, and pick the
fix from one table of known causes (`_RULES`), checked in order.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shipyard.domain.platforms import Platform
from shipyard.errors import AuthError, BuildError, ShipyardError

from .request import emulator_registered, host_arch

_STEP = re.compile(r'^building at STEP "(?P<step>.*?)": (?P<detail>.*)$')
_GO_DUMP = re.compile(r"\s*&imagebuilder\.Step\{.*$")
_ORIGINAL = re.compile(r'Original:"((?:[^"\\]|\\.)*)"')
_EXIT_STATUS = re.compile(r"^exit status \d+$")
_LOGRUS = re.compile(r'level=(?:fatal|error) msg="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class BuildahFailure:
    """The meaningful part of a failed buildah command's stderr."""

    step: str    # the instruction being built, e.g. `RUN true`; "" when no step was reached
    reason: str  # buildah's own reason, one line, Go noise removed
    output: str  # for a RUN that exited non-zero, the last line it printed; else ""
    text: str    # the whole stderr, for the rules to search

    @property
    def detail(self) -> str:
        """`exit status 1 after: npm ERR! missing script: build`."""
        return f"{self.reason} after: {self.output}" if self.output else self.reason


def parse_failure(stderr: str) -> BuildahFailure:
    """Pick the step and the reason out of buildah's stderr.

    >>> parse_failure('STEP 1/1: RUN x\\nError: building at STEP "RUN x": exit status 1').step
    'RUN x'
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line.removeprefix("Error: ") for line in lines if line.startswith("Error: ")]
    if errors:
        last = errors[-1]
    else:
        # No "Error:" line: a fatal log line, a Go panic, or whatever came last.
        logged = [m.group(1) for line in lines if (m := _LOGRUS.search(line))]
        panics = [line for line in lines if line.startswith("panic: ")]
        last = (logged or panics or lines or ["buildah exited without a message"])[-1]
    original = _ORIGINAL.search(last)
    last = _GO_DUMP.sub("", last)
    step, detail = "", last
    if match := _STEP.match(last):
        step, detail = match["step"].strip(), match["detail"].strip()
    detail = detail.removeprefix("Build error: ")
    if original:
        step = _unquote(original.group(1))
    output = ""
    if _EXIT_STATUS.match(detail) and errors:
        # "exit status 1" alone says nothing: add what the RUN step printed last.
        output = _last_output(lines[: len(lines) - 1 - lines[::-1].index(f"Error: {errors[-1]}")])
    return BuildahFailure(step=step, reason=detail, output=output, text=stderr)


def _last_output(lines: list[str]) -> str:
    """The last line a failed RUN printed, with buildah's own status chatter removed."""
    for line in reversed(lines):
        if _LOGRUS.search(line) or line.startswith(("STEP ", "subprocess exited with status")):
            continue
        # buildah runs these together without newlines: keep the first, meaningful one.
        line = line.split("process exited with error:")[0]
        line = line.removeprefix("process failed to start with error: ").strip()
        if line:
            return line if len(line) <= 200 else line[:197] + "..."
    return ""


def _unquote(go_string: str) -> str:
    try:
        return json.loads(f'"{go_string}"')
    except ValueError:
        return go_string


def step_line(step: str, dockerfile_text: str) -> int | None:
    """The 1-based line where `step` starts, when exactly one line matches it."""
    want = _normal(step)
    if not want:
        return None
    hits = []
    for number, raw in enumerate(dockerfile_text.splitlines(), start=1):
        have = _normal(raw.rstrip().removesuffix("\\"))
        if not have or have.startswith("#"):
            continue
        # A continued instruction (`RUN a && \`) matches the start of the joined step.
        if have == want or (want.startswith(have + " ") and " " in have):
            hits.append(number)
    return hits[0] if len(hits) == 1 else None


def _normal(instruction: str) -> str:
    words = instruction.split(maxsplit=1)
    if len(words) == 2 and words[1].startswith("["):
        # Exec form: buildah reports `RUN ["a", "b"]` as `RUN a b`.
        with contextlib.suppress(ValueError, TypeError):
            words[1] = " ".join(json.loads(words[1]))
    return " ".join(" ".join(words).split()).lower()


@dataclass(frozen=True)
class FailureContext:
    """What a rule may mention besides the failure: where, for which platform, what cache."""

    platform: Platform
    dockerfile: Path
    context: Path
    storage: Path
    step: str      # "RUN true", or "" when buildah failed before any step
    location: str  # "Containerfile line 3", or "Containerfile" when the line is not known

    @property
    def where(self) -> str:
        """`Containerfile line 3 (RUN true)`."""
        return f"{self.location} ({self.step})" if self.step else self.location


Rule = tuple[
    re.Pattern[str], str, Callable[[BuildahFailure, FailureContext], ShipyardError]
]


def _foreign_binary(failure: BuildahFailure, ctx: FailureContext) -> ShipyardError:
    return foreign_binary_error(ctx.platform, ctx.step, ctx.location) or _generic(failure, ctx)


def foreign_binary_error(platform: Platform, step: str, location: str) -> BuildError | None:
    """The error for "exec format error" while building `platform`; None when it is native."""
    if platform.arch == host_arch():
        return None
    where = f"{step} at {location}" if step else location
    if emulator_registered(platform.arch):
        # A handler without the F (fix-binary) flag cannot be found from inside the build chroot.
        return BuildError(
            f"building {platform} needs to run a {platform} binary ({where}) and the registered "
            f"qemu handler for {platform.arch} failed inside the build: re-register it with the "
            "F flag (apt-get install --reinstall qemu-user-static binfmt-support)"
        )
    return BuildError(
        f"building {platform} needs to run a {platform} binary ({where}) and this machine "
        "cannot: install qemu-user-static and binfmt-support (apt-get install "
        "qemu-user-static binfmt-support), or drop RUN instructions for foreign platforms"
    )


def _refused(failure: BuildahFailure, ctx: FailureContext) -> ShipyardError:
    return AuthError(
        f"the registry refused to serve a base image while building {ctx.platform} at "
        f"{ctx.where}: {failure.detail}; check the registry login given to the build"
    )


def _plain_http(failure: BuildahFailure, ctx: FailureContext) -> ShipyardError:
    return BuildError(
        f"a base image registry answers plain http, not https, at {ctx.where}: "
        f"{failure.detail}; list it as an insecure registry (allowed for loopback hosts only)"
    )


def _unreachable(failure: BuildahFailure, ctx: FailureContext) -> ShipyardError:
    return BuildError(
        f"cannot reach the registry of a base image at {ctx.where}: {failure.detail}; "
        "check the image name, the network and that the registry is up"
    )


def _missing_source(failure: BuildahFailure, ctx: FailureContext) -> ShipyardError:
    return BuildError(
        f"{ctx.where} copies a file that is not in the build context {ctx.context}: "
        f"{failure.detail}; add it, fix the path, or check .dockerignore/.containerignore"
    )


def _no_space(failure: BuildahFailure, ctx: FailureContext) -> ShipyardError:
    return BuildError(
        f"the disk filled up while building {ctx.platform} at {ctx.where}; free space, or "
        f"delete buildah's cache folder {ctx.storage} (it is rebuilt on the next build)"
    )


def _generic(failure: BuildahFailure, ctx: FailureContext) -> ShipyardError:
    return BuildError(
        f"building {ctx.platform} failed at {ctx.where}: {failure.detail}; "
        "fix that instruction and build again"
    )


# Checked in order; the first match explains the failure. Most rules look only at buildah's
# own reason ("reason"): a RUN step's output may say "connection refused" without any
# registry being involved. A foreign binary shows up only in the lines before it ("text").
_RULES: tuple[Rule, ...] = (
    (re.compile(r"exec format error", re.I), "text", _foreign_binary),
    (re.compile(r"unauthorized|authentication required|requested access to the resource "
                r"is denied", re.I), "reason", _refused),
    (re.compile(r"server gave HTTP response to HTTPS client", re.I), "reason", _plain_http),
    (re.compile(r"connection refused|no such host|i/o timeout|network is unreachable", re.I),
     "reason", _unreachable),
    (re.compile(r"checking on sources under .*no such file or directory", re.I), "reason",
     _missing_source),
    (re.compile(r"no space left on device", re.I), "text", _no_space),
)


def translate(
    stderr: str, *, platform: Platform, dockerfile: Path, context: Path, storage: Path
) -> ShipyardError:
    """The error to raise for a failed `buildah build` of `platform`."""
    failure = parse_failure(stderr)
    location = dockerfile.name
    if failure.step:
        try:
            line = step_line(failure.step, dockerfile.read_text(errors="replace"))
        except OSError:
            line = None
        location += f" line {line}" if line else ""
    ctx = FailureContext(platform, dockerfile, context, storage, failure.step, location)
    for pattern, scope, explain in _RULES:
        if pattern.search(failure.text if scope == "text" else failure.reason):
            return explain(failure, ctx)
    return _generic(failure, ctx)
