"""What stands for each `uses:` step in a rehearsal; an action without one is skipped, saying so.

| action                                   | local equivalent                                    |
|------------------------------------------|-----------------------------------------------------|
| actions/checkout                         | the working tree as it is (nothing is fetched)      |
| actions/setup-python                     | a venv of the rehearsal over the interpreter running|
|                                          | shipyard (its packages seen), first on PATH         |
| aws-actions/configure-aws-credentials    | the sandbox's endpoints and credentials, exported   |
| actions/upload-artifact                  | files copied to WORKDIR/artifacts/NAME/             |
| actions/download-artifact                | WORKDIR/artifacts/NAME/ copied to `path`            |
| github/codeql-action/upload-sarif        | the SARIF file copied to WORKDIR/code-scanning/     |
| github/codeql-action/* (init, analyze…)  | skipped: CodeQL runs on GitHub's code scanning      |
| docker/setup-qemu-action, setup-buildx   | skipped: shipyard's builder needs no setup here     |
| actions/cache                            | skipped: a rehearsal keeps no cache                 |
| anything else                            | skipped, named in the output                        |
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.errors import ShipyardError


@dataclass(frozen=True)
class ActionOutcome:
    result: str  # success, failure or skipped
    note: str
    outputs: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # for the job's later steps
    path: tuple[str, ...] = ()  # folders put first on PATH for later steps


@dataclass(frozen=True)
class ActionPlace:
    """Where the local equivalents work."""

    root: Path  # the working tree (GITHUB_WORKSPACE)
    workdir: Path  # the rehearsal's folder: artifacts, code-scanning
    sandbox_env: Callable[[], Mapping[str, str]]


SKIPPED = {
    "github/codeql-action": "CodeQL runs on GitHub's code scanning; nothing local stands "
                            "for it",
    "docker/setup-qemu-action": "shipyard's builder needs no setup here",
    "docker/setup-buildx-action": "shipyard's builder needs no setup here",
    "actions/cache": "a rehearsal keeps no cache",
}


def action_name(uses: str) -> str:
    """`owner/repo[/path]` of a `uses:` without its @ref, lower-cased."""
    return uses.split("@", 1)[0].strip().lower()


def run_action(uses: str, with_: Mapping[str, Any], place: ActionPlace) -> ActionOutcome:
    name = action_name(uses)
    if name.startswith(("./", "docker://")):
        return ActionOutcome("skipped", f"{uses}: local and container actions are not "
                                        "rehearsed")
    handler = _HANDLERS.get(name)
    if handler is not None:
        return handler(with_, place)
    for prefix, reason in SKIPPED.items():
        if name == prefix or name.startswith(prefix + "/"):
            return ActionOutcome("skipped", reason)
    return ActionOutcome("skipped", f"no local equivalent of {name}")


def _checkout(with_: Mapping[str, Any], place: ActionPlace) -> ActionOutcome:
    return ActionOutcome("success", f"the working tree {place.root} stands for the checkout")


def _setup_python(with_: Mapping[str, Any], place: ActionPlace) -> ActionOutcome:
    wanted = with_.get("python-version")
    here = ".".join(map(str, sys.version_info[:3]))
    try:
        folder = rehearsal_python(place.workdir / "python")
    except (OSError, subprocess.CalledProcessError) as exc:
        return ActionOutcome("failure", f"cannot make the rehearsal's Python environment: {exc}")
    note = f"Python {here} (a venv over {sys.prefix}) stands for " + (
        f"Python {wanted}" if wanted else "setup-python")
    python = folder / "bin" / "python"
    return ActionOutcome("success", note, outputs={"python-version": here,
                                                   "python-path": str(python)},
                         path=(str(folder / "bin"),))


def rehearsal_python(folder: Path) -> Path:
    """A virtual environment of the rehearsal's own, made once: it runs the interpreter running
    shipyard and sees the packages it has (a .pth line), so a step's `pip install` has what it
    needs at hand and installs into this folder, never into the environment running the
    rehearsal."""
    marker = folder / ".shipyard-rehearsal"
    if marker.exists():
        return folder
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True,
                   capture_output=True, timeout=120)
    purelib = subprocess.run([str(folder / "bin" / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True, timeout=60).stdout
    # addsitedir, not a plain path line: the .pth files over there (an editable install's)
    # count too. The folder's own site-packages stays first, so what a step installs wins.
    bases = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (Path(purelib.strip()) / "shipyard-rehearsal-base.pth").write_text("".join(
        f"import site; site.addsitedir({base!r})\n" for base in bases))
    marker.write_text("")
    return folder


def _configure_aws(with_: Mapping[str, Any], place: ActionPlace) -> ActionOutcome:
    try:
        env = dict(place.sandbox_env())
    except ShipyardError as exc:
        return ActionOutcome("failure", exc.message)
    role = with_.get("role-to-assume")
    region = env.get("AWS_REGION", "")
    if region:
        env.setdefault("AWS_DEFAULT_REGION", region)
    note = "the sandbox's credentials stand for " + (f"role {role}" if role else "the keys")
    wanted = with_.get("aws-region")
    if wanted and region and wanted != region:
        note += f" (the sandbox serves {region}, not {wanted})"
    return ActionOutcome("success", note, env=env)


def _upload_artifact(with_: Mapping[str, Any], place: ActionPlace) -> ActionOutcome:
    name = str(with_.get("name") or "artifact")
    target = place.workdir / "artifacts" / name
    patterns = [line.strip() for line in str(with_.get("path") or "").splitlines()
                if line.strip()]
    if not patterns:
        return ActionOutcome("failure", "upload-artifact has no path:")
    files: list[Path] = []
    excluded: set[Path] = set()
    for pattern in patterns:
        negated = pattern.startswith("!")
        found = _matches(place.root, pattern[1:] if negated else pattern)
        if negated:
            excluded.update(found)
        else:
            files.extend(found)
    kept = sorted({f for f in files if f not in excluded})
    if not kept:
        wanted = str(with_.get("if-no-files-found") or "warn")
        result = "failure" if wanted == "error" else "success"
        return ActionOutcome(result, f"no files match {', '.join(patterns)}: nothing uploaded")
    # As upload-artifact does, paths inside the artifact start at the files' least common
    # ancestor (GamePulse/reports/ uploads reports/x.xml as x.xml).
    ancestor = Path(os.path.commonpath([file.parent for file in kept]))
    for file in kept:
        destination = target / file.relative_to(ancestor)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, destination)
    return ActionOutcome("success", f"{len(kept)} file(s) copied to {target}",
                         outputs={"artifact-url": target.as_uri()})


def _matches(root: Path, pattern: str) -> list[Path]:
    base = Path(os.path.expanduser(pattern))
    base = base if base.is_absolute() else root / base
    found: list[Path] = []
    for match in glob.glob(str(base), recursive=True):
        path = Path(match)
        if path.is_dir():
            found.extend(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            found.append(path)
    return found


def _download_artifact(with_: Mapping[str, Any], place: ActionPlace) -> ActionOutcome:
    name = str(with_.get("name") or "")
    source = place.workdir / "artifacts" / name if name else place.workdir / "artifacts"
    if not source.is_dir():
        return ActionOutcome("failure", f"no artifact {name or '(any)'} was uploaded in this "
                                        "rehearsal")
    destination = Path(str(with_.get("path") or "."))
    destination = destination if destination.is_absolute() else place.root / destination
    shutil.copytree(source, destination, dirs_exist_ok=True)
    return ActionOutcome("success", f"{source} copied to {destination}")


def _upload_sarif(with_: Mapping[str, Any], place: ActionPlace) -> ActionOutcome:
    sarif = Path(str(with_.get("sarif_file") or ""))
    sarif = sarif if sarif.is_absolute() else place.root / sarif
    if not sarif.exists():
        return ActionOutcome("failure", f"the SARIF file {sarif} does not exist")
    target = place.workdir / "code-scanning"
    target.mkdir(parents=True, exist_ok=True)
    if sarif.is_dir():
        shutil.copytree(sarif, target, dirs_exist_ok=True)
    else:
        shutil.copy2(sarif, target / sarif.name)
    return ActionOutcome("success", f"code scanning is GitHub's: {sarif.name} kept in {target}")


_HANDLERS: dict[str, Callable[[Mapping[str, Any], ActionPlace], ActionOutcome]] = {
    "actions/checkout": _checkout,
    "actions/setup-python": _setup_python,
    "aws-actions/configure-aws-credentials": _configure_aws,
    "actions/upload-artifact": _upload_artifact,
    "actions/download-artifact": _download_artifact,
    "github/codeql-action/upload-sarif": _upload_sarif,
}
