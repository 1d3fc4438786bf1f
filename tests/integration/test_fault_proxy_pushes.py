"""`shipyard push --from-oci` through a fault-injecting proxy, each result checked by skopeo.

A sandbox of this module's own (registry front + moto) sits behind
`shipyard_testing.fault_proxy`, which fails about a quarter of the registry requests on a
seeded schedule: 429 and 5xx answers, connections reset mid-body, answers lost or cut off
after the registry acted, stalls longer than the client's read timeout, and flipped bits. Each
push either exits 0 and skopeo, asking the registry directly (not through the proxy), finds
the digest the push reported under every tag and copies every blob whole; or it fails with
the registry's exit code (7) and one error line. Every output is searched for the registry
password, its Basic form and the AWS secret key, and the registry storage for upload sessions
the client was told of and left open.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx
import pytest

from shipyard.call_log import disable_verbose
from shipyard.usecases.context import Context
from shipyard_testing.fault_proxy import Fault, RandomFaults, UploadSession, fault_proxy
from shipyard_testing.oci_layouts import write_oci_layout

pytestmark = pytest.mark.integration

SEED = 20261130
PUSHES = 14
RATE = 0.28  # the share of registry requests that meet a fault
WEIGHTS = {"429": 2, "500": 1, "502": 1, "503": 3, "504": 1, "reset-mid-body": 3,
           "lost-answer": 4, "cut-answer": 3, "stall": 1, "bit-flip": 1}
# The client's read timeout in this test, and how long a stall holds a request: a stall then
# costs a second, not the minute of the default timeout.
READ_TIMEOUT = 0.5
STALL_SECONDS = 1.0
REGISTRY_FAILURE = 7  # ExitCode.REGISTRY, as the README's exit code table documents it
PLATFORMS = (("linux/amd64",), ("linux/amd64", "linux/arm64"))


@pytest.fixture(scope="module")
def own_sandbox(tmp_path_factory: pytest.TempPathFactory):
    """A sandbox of this module's own: its registry storage is where sessions are counted."""
    from shipyard_sandbox import control

    state_dir = tmp_path_factory.mktemp("fault-sandbox")
    endpoints, _ = control.up(state_dir, region="ap-northeast-2")
    try:
        yield endpoints.environment(), state_dir / "registry" / "storage"
    finally:
        control.down(state_dir)


# About 20-25 s on 2 cores: most of it the retries' waits and the stalls, each cut short.
@pytest.mark.slow
def test_pushes_through_faults_are_whole_or_fail_cleanly(
        repo, shipyard, own_sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env, storage = own_sandbox
    # moto takes any key: a random one is a secret that cannot appear in output by chance.
    env = {**env, "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(24),
           "AWS_SESSION_TOKEN": secrets.token_urlsafe(32)}
    registry = env["SHIPYARD_REGISTRY"]
    user_password = _ecr_login(env)
    secret_texts = [user_password.split(":", 1)[1],
                    base64.b64encode(user_password.encode()).decode(),
                    env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]]
    _short_registry_timeouts(monkeypatch)
    tally = _Tally()
    # Both branches, whatever the random schedule does: every blob PUT of the first push is
    # refused (it must fail, cleanly), and the second push's first blob PUT has a bit flipped
    # (the registry refuses it as DIGEST_INVALID, and the client sends it again).
    first = [Fault("503", "PUT", r"/v2/faults/p00/blobs/uploads/.", times=99),
             Fault("bit-flip", "PUT", r"/v2/faults/p01/blobs/uploads/.")]
    with fault_proxy(registry, first, schedule=RandomFaults(SEED, RATE, WEIGHTS),
                     stall_seconds=STALL_SECONDS, seed=SEED,
                     late_after=READ_TIMEOUT / 2, echo_credentials=True) as proxy:
        for key, value in {**env, "SHIPYARD_REGISTRY": proxy.host}.items():
            monkeypatch.setenv(key, value)
        for number in range(PUSHES):
            repository = f"faults/p{number:02d}"
            layout = write_oci_layout(tmp_path / f"layout-{number}",
                                      PLATFORMS[number % 3 == 2],
                                      layers=(96 << 10, 160 << 10), opaque=True)
            # -v on every other push: its call lines are more output a secret could reach
            flags = ["-v"] if number % 2 else []
            run = shipyard(repo, *flags, "push", "--from-oci", str(layout), "--json",
                           env={"ECR_REPOSITORY": repository})
            disable_verbose()  # -v's handler would outlive the run (in-process CLI)
            where = f"push {number} ({repository}) exit {run.code}"
            tally.leaks += [f"{where}: a secret in its output" for text in secret_texts
                            if text in run.out + run.err]
            skopeo = _Skopeo(registry, repository, user_password)
            expected = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
            if run.code == 0:
                tally.outcomes["ok"] += 1
                tally.corrupt += skopeo.problems(run.json(), expected, layout,
                                                 tmp_path / f"copy-{number}", where)
            else:
                tally.failed(where, run.code, run.err, proxy.host)
                tally.tags_astray += skopeo.tags_astray(expected)
            tally.sessions(storage, repository, proxy.sessions, where)
        faults = proxy.counts()
        requests = len(proxy.log)
    figures = {"pushes": PUSHES, **tally.outcomes, "requests": requests,
               "faulted": sum(faults.values()), "faults": faults,
               "corrupt": len(tally.corrupt), "leaks": len(tally.leaks),
               "failure causes": dict(tally.causes),
               "tags left on altered manifests by failed pushes": tally.tags_astray,
               "upload sessions left open": dict(tally.left_open)}
    print(f"\nfault-proxy pushes: {json.dumps(figures, sort_keys=True)}")
    assert tally.corrupt == [] and tally.leaks == [], figures
    assert sum(tally.outcomes.values()) == PUSHES, figures
    # both branches checked: pushes that got through, and faults that stopped a push
    assert tally.outcomes["ok"] >= PUSHES // 3 and tally.outcomes["ok"] < PUSHES, figures
    assert set(faults) == set(WEIGHTS), figures  # every kind was met at least once
    assert 0.2 <= sum(faults.values()) / requests <= 0.35, figures


@dataclass
class _Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    causes: Counter[str] = field(default_factory=Counter)
    left_open: Counter[str] = field(default_factory=Counter)
    corrupt: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    tags_astray: int = 0

    def failed(self, where: str, code: int, err: str, proxy_host: str) -> None:
        """A failed push: the registry's exit code, one error line naming the registry, no
        traceback and no "unexpected" (the CLI's words for a bug)."""
        self.outcomes[f"exit {code}"] += 1
        errors = [line for line in err.splitlines() if line.startswith('{"error"')]
        assert code == REGISTRY_FAILURE, f"{where}: {err}"
        assert len(errors) == 1 and "Traceback" not in err, f"{where}: {err}"
        message = json.loads(errors[0])["error"]["message"]
        assert "unexpected" not in message and f"registry {proxy_host}" in message, message
        self.causes[next((cause for text, cause in _CAUSES if text in message), message)] += 1

    def sessions(self, storage: Path, repository: str, known: dict[str, UploadSession],
                 where: str) -> None:
        """Count upload sessions still open in the registry storage for `repository`, by why.

        "abandoned": the client knew of it and never sent DELETE, a leak. The others are not
        the client's doing: "never-known" (the answer naming it was lost or cut, or came
        so late that the client may have given up on it),
        "cancel-faulted" (a fault met the client's DELETE), "cancel-refused (STATUS)" (the
        registry refused the DELETE; 404 after a PUT it refused as DIGEST_INVALID: it has
        forgotten the session, and distribution 2.8 leaves its folder behind)."""
        folder = storage / "docker/registry/v2/repositories" / repository / "_uploads"
        for started in sorted(folder.glob("*/startedat")):
            session = known.get(started.parent.name)
            if session is None or (session.delivered and not session.cancels):
                state = "abandoned"
                self.leaks.append(f"{where}: upload session {started.parent.name} left open")
            elif not session.delivered:
                state = "never-known"
            elif all(status == -1 for status in session.cancels):
                state = "cancel-faulted"
            else:
                answers = sorted({status for status in session.cancels if status != -1})
                state = f"cancel-refused ({', '.join(map(str, answers))})"
            self.left_open[state] += 1


# What stopped a push, by a phrase of its error message.
_CAUSES = (
    ("still failed after", "retries exhausted"),
    ("DIGEST_INVALID", "registry refused altered content (DIGEST_INVALID)"),
    ("MANIFEST_INVALID", "registry refused an altered manifest (MANIFEST_INVALID)"),
    ("MANIFEST_BLOB_UNKNOWN", "registry refused an altered manifest (MANIFEST_BLOB_UNKNOWN)"),
    ("stored digest", "registry stored an altered manifest, the client refused it"),
)


def _short_registry_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's registry client with a short read timeout and backoff: a stall or a retry
    costs a second at most. What is tested is that it gives up and retries, not how long it
    waits (the defaults are a minute and half a second, doubling)."""
    made = Context.registry

    def registry(self: Context, host: str, **options: object):
        options.setdefault("timeout", httpx.Timeout(5.0, read=READ_TIMEOUT))
        options.setdefault("backoff_base", 0.02)
        options.setdefault("max_retry_after", 0.1)
        return made(self, host, **options)

    monkeypatch.setattr(Context, "registry", registry)


def _ecr_login(env: dict[str, str]) -> str:
    """"AWS:<password>", as GetAuthorizationToken hands it out (moto, straight)."""
    ecr = boto3.client("ecr", region_name=env["AWS_REGION"], endpoint_url=env["AWS_ENDPOINT_URL"],
                       aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return base64.b64decode(token).decode()


class _Skopeo:
    """skopeo, straight to the sandbox registry (not through the proxy), for one repository."""

    def __init__(self, registry: str, repository: str, creds: str) -> None:
        self.base = f"docker://{registry}/{repository}"
        self.creds = creds

    def run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["skopeo", *args], capture_output=True, timeout=60, check=False)

    def digest_of(self, tag: str) -> str:
        """The digest of the manifest `tag` names, computed from its bytes; else the error."""
        raw = self.run("inspect", "--raw", "--tls-verify=false", f"--creds={self.creds}",
                       f"{self.base}:{tag}")
        if raw.returncode != 0:
            return raw.stderr.decode(errors="replace").strip()[-200:]
        return "sha256:" + hashlib.sha256(raw.stdout).hexdigest()

    def problems(self, data: dict, expected: str, layout: Path, copy: Path, where: str
                 ) -> list[str]:
        """What is wrong with a push that exited 0: [] when the digest it reported is the
        layout's, every tag names it, and every blob of the layout copies whole."""
        problems = []
        if data["digest"] != expected:
            problems.append(f"{where}: reported {data['digest']}, the layout is {expected}")
        problems += [f"{where}: tag {tag} is {found}" for tag in data["tags"]
                     if (found := self.digest_of(tag)) != expected]
        # skopeo checks each blob against its digest as it copies; the copy must then hold
        # every blob of the layout (the file names are the digests, checked again here).
        done = self.run("copy", "--all", "--preserve-digests", "--src-tls-verify=false",
                        f"--src-creds={self.creds}", f"{self.base}@{expected}", f"oci:{copy}")
        if done.returncode != 0:
            return [*problems, f"{where}: skopeo copy failed: {done.stderr.decode()[-300:]}"]
        wanted = {path.name for path in (layout / "blobs" / "sha256").iterdir()}
        copied = {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
                  for path in (copy / "blobs" / "sha256").iterdir()}
        if not wanted <= set(copied) or any(name != sha for name, sha in copied.items()):
            problems.append(f"{where}: the registry's copy lacks or alters blobs")
        return problems

    def tags_astray(self, expected: str) -> int:
        """After a failed push: how many of the repository's tags name another manifest."""
        listed = self.run("list-tags", "--tls-verify=false", f"--creds={self.creds}",
                          self.base)
        if listed.returncode != 0:
            return 0  # a push that failed before any tag (the registry says 404)
        tags = json.loads(listed.stdout)["Tags"] or []
        return sum(self.digest_of(tag) != expected for tag in tags)


def test_an_answer_with_a_flipped_bit_is_refused(registry_server, oci_layout_factory) -> None:
    """What the client reads by digest it checks: a bit flipped in the answer is an error,
    never content handed on."""
    from shipyard.adapters.oci_layout import OciLayout
    from shipyard.adapters.registry import RegistryClient
    from shipyard.errors import RegistryError

    layout = OciLayout.open(oci_layout_factory())
    config = json.loads(layout.top_content)["config"]["digest"]
    with RegistryClient(registry_server.host) as client:
        client.push_layout(layout, "flips", ["1"])
    faults = [Fault("bit-flip", "GET", r"/manifests/sha256:"),
              Fault("bit-flip", "GET", r"/blobs/sha256:")]
    with fault_proxy(registry_server.host, faults) as proxy, \
            RegistryClient(proxy.host, max_retries=0) as client:
        with pytest.raises(RegistryError, match="altered"):
            client.get_manifest("flips", layout.digest)
        with pytest.raises(RegistryError, match="altered"):
            client.get_small_blob("flips", config)
        # the same reads, now unaltered, go through
        assert client.get_manifest("flips", layout.digest)[0] == layout.top_content
        assert client.get_small_blob("flips", config) == (
            layout.path / "blobs" / "sha256" / config[7:]).read_bytes()
    assert proxy.counts() == {"bit-flip": 2}
