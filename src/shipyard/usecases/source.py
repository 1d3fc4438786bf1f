"""The commit being released: git's answers, overridden by GitHub Actions' context in CI."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from shipyard.adapters.git import Git
from shipyard.adapters.github import ActionsContext
from shipyard.domain.versioning import RefFacts, highest_release_tag, version_from_tag
from shipyard.errors import GitError, UsageError

_SCP_REMOTE = re.compile(r"^[\w.-]+@([\w.-]+):(.+)$")
_USERINFO = re.compile(r"^(\w+://)[^/?#]*@")
# A full commit id: SHA-1, or SHA-256 in repositories that use it. Nothing git would resolve
# (`HEAD~1`, a branch name) may stand in for the commit the run is for.
_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass(frozen=True)
class SourceContext:
    """Branch, commit, release tag and state of the checkout being released."""

    branch: str | None
    sha: str
    commit_time: datetime
    release_tag: str | None
    dirty: bool
    shallow: bool
    pull_request: int | None
    in_actions: bool
    source_url: str

    @property
    def short_sha(self) -> str:
        return self.sha[:7]

    @property
    def facts(self) -> RefFacts:
        tags = (self.release_tag,) if self.release_tag else ()
        return RefFacts(branch=self.branch, pull_request=self.pull_request, release_tags=tags)


def read_source_context(git: Git, actions: ActionsContext | None, tag_prefix: str,
                        *, manual_version: bool = False) -> SourceContext:
    """Gather the context; the caller has checked that `git` is in a repository with commits.

    With a manual version, a tag ref that is not a release tag (a `nightly` tag) is not an
    error: the version does not come from it.
    """
    release_tags = [t for t in git.tags_at_head() if version_from_tag(t, tag_prefix)]
    branch = git.current_branch()
    sha = git.head_sha()
    pull_request = None
    source_url = public_url(git.remote_url() or "")
    if actions is not None:
        if actions.tag is not None and not manual_version:
            if version_from_tag(actions.tag, tag_prefix) is None:
                # The tag comes from GITHUB_REF, or from GITHUB_REF_NAME when the ref is unset.
                named = (f"GITHUB_REF {actions.ref!r}" if actions.ref
                         else f"GITHUB_REF_NAME {actions.tag!r}")
                raise UsageError(
                    f"{named} is not a release tag '{tag_prefix}<semver>'; "
                    f"tag releases like {tag_prefix}1.2.3, or pass --version"
                )
            release_tags.append(actions.tag)
        branch = actions.branch
        pull_request = actions.pull_request
        if actions.sha:
            sha = _run_commit(git, actions.sha)
        source_url = actions.repository_url or source_url
    best = highest_release_tag(release_tags, tag_prefix)
    return SourceContext(
        branch=branch,
        sha=sha,
        commit_time=git.commit_time(sha),
        release_tag=best[0] if best else None,
        dirty=git.is_dirty(),
        shallow=git.is_shallow(),
        pull_request=pull_request,
        in_actions=actions is not None,
        source_url=source_url,
    )


def _run_commit(git: Git, sha: str) -> str:
    """GITHUB_SHA, the commit the run is for: releasing HEAD instead would version, tag and
    label another commit than the one the workflow names."""
    if not _FULL_SHA.fullmatch(sha):
        raise UsageError(f"GITHUB_SHA {sha!r} is not a full commit id (40 hex digits); "
                         "set it as GitHub does, or leave it unset")
    if not git.has_commit(sha):
        raise GitError(f"GITHUB_SHA {sha} is not a commit in this clone; fetch it "
                       f"(actions/checkout with fetch-depth: 0, or git fetch origin {sha})")
    return git.resolve(sha)


def public_url(remote: str) -> str:
    """A remote as a browsable https URL, credentials removed (they must never be printed).

    >>> public_url("git@github.com:acme/gamepulse.git")
    'https://github.com/acme/gamepulse'
    """
    if not remote:
        return ""
    scp = _SCP_REMOTE.match(remote)
    url = f"https://{scp.group(1)}/{scp.group(2)}" if scp else _USERINFO.sub(r"\1", remote)
    if url.startswith("ssh://"):
        url = "https://" + url[len("ssh://"):]
    if not url.startswith(("https://", "http://")):
        return ""
    url = re.split(r"[?#]", url, maxsplit=1)[0]  # a query can carry a token too
    return url.removesuffix(".git")
