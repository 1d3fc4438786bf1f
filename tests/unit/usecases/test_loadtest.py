"""`plan_loadtest` and `run_loadtest` with a fake Locust: which settings win, where the URL
comes from, what the scenario's process gets, and how a run that did not complete fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipyard.adapters.locust_runner import LocustFiles, LocustRun
from shipyard.config import load_config
from shipyard.errors import ChecksFailedError, ConfigError, ExitCode, UsageError
from shipyard.usecases.context import Context
from shipyard.usecases.loadtest import LoadTestOptions, enforce, plan_loadtest, run_loadtest

TOML = """\
[loadtest]
users = 10
p95_ms = 500.0
min_rps = 2.0

[loadtest.environments.production]
users = 3
url = "http://127.0.0.1:9002"

[environments.staging]
cluster = "c"
service = "s"
task_definition = "td.json"
[environments.staging.health]
url = "${STAGING_URL:-http://127.0.0.1:9001}"

[environments.production]
cluster = "c"
service = "p"
task_definition = "td.json"
"""

STATS = [{"name": "/health", "method": "GET", "num_requests": 40, "num_failures": 0,
          "start_time": 10.0, "last_request_timestamp": 20.0, "response_times": {"7": 40}}]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "loadtest").mkdir()
    (tmp_path / "loadtest" / "locustfile.py").write_text("# the scenario\n")
    (tmp_path / "shipyard.toml").write_text(TOML)
    return tmp_path


def _plan(project: Path, environment: str = "staging", env: dict | None = None, **options):
    return plan_loadtest(load_config(project), LoadTestOptions(environment, **options),
                         env or {})


class FakeLocust:
    """Writes the reports Locust would (or none), and records what it was given."""

    def __init__(self, stats: list | None = STATS, exit_code: int | None = 0) -> None:
        self.stats, self.exit_code = stats, exit_code
        self.calls: list[dict] = []

    def __call__(self, **given) -> LocustRun:
        self.calls.append(given)
        files: LocustFiles = given["files"]
        files.folder.mkdir(parents=True, exist_ok=True)
        if self.stats is not None:
            files.json.write_text(json.dumps(self.stats))
        files.log.write_text("starting\nTraceback ...\nImportError: no module named x\n")
        return LocustRun(self.exit_code, 1.0, 41.0)


class NoDns:
    def addresses(self, host: str, port: int) -> list[str]:
        return ["127.0.0.1"]


def test_the_flags_win_over_the_environments_override_which_wins_over_the_section(
        project: Path) -> None:
    staging = _plan(project)
    assert (staging.users, staging.limits.p95_ms, staging.limits.min_rps) == (10, 500.0, 2.0)
    assert staging.url == "http://127.0.0.1:9001"  # health.url, its default filled in
    assert staging.files.folder == project / ".shipyard" / "loadtest" / "staging"
    production = _plan(project, "production")
    assert (production.users, production.url) == (3, "http://127.0.0.1:9002")
    flagged = _plan(project, "production", tuned={"users": 7, "min_rps": 0.5},
                    url="http://127.0.0.1:9003", reports_dir=project / "r")
    assert (flagged.users, flagged.limits.min_rps, flagged.url) == (7, 0.5,
                                                                     "http://127.0.0.1:9003")
    assert flagged.files.folder == project / "r"


def test_the_url_is_filled_in_from_the_environment(project: Path) -> None:
    plan = _plan(project, env={"STAGING_URL": "https://staging.example.org"})
    assert plan.url == "https://staging.example.org"


@pytest.mark.parametrize(("env", "options", "error", "says"), [
    ({"STAGING_URL": "http://10.0.0.8"}, {}, ConfigError,
     "environments.staging.health.url: refused http://10.0.0.8: 10.0.0.8 is a private"),
    ({}, {"url": "http://169.254.169.254"}, UsageError, "--url: refused"),
    ({}, {"url": "${NOPE}"}, UsageError, "--url uses ${NOPE}, which is not set"),
])
def test_a_url_not_to_load_is_refused_before_anything_runs(project: Path, env: dict,
                                                            options: dict, error: type,
                                                            says: str) -> None:
    with pytest.raises(error, match=says.replace("$", r"\$").replace("{", r"\{")):
        _plan(project, env=env, **options)
    assert not (project / ".shipyard").exists()


def test_settings_that_cannot_work_name_the_key(project: Path) -> None:
    (project / "loadtest" / "locustfile.py").unlink()
    with pytest.raises(ConfigError, match=r"loadtest.scenario: .* is not a file"):
        _plan(project)
    (project / "loadtest" / "locustfile.py").write_text("# the scenario\n")
    (project / "shipyard.toml").write_text(TOML + "[loadtest.environments.prod]\nusers = 1\n")
    with pytest.raises(ConfigError, match=r"loadtest\.environments\.prod names no environment"):
        _plan(project)
    (project / "shipyard.toml").write_text(TOML.replace(
        '[environments.staging.health]\nurl = "${STAGING_URL:-http://127.0.0.1:9001}"\n', ""))
    with pytest.raises(ConfigError, match="no URL for staging"):
        _plan(project)


def test_the_scenario_gets_no_credentials_and_the_run_is_judged(project: Path) -> None:
    plan = _plan(project)
    locust = FakeLocust()
    env = {"PATH": "/bin", "AWS_SECRET_ACCESS_KEY": "k" * 40, "AWS_SESSION_TOKEN": "t" * 40,
           "GITHUB_TOKEN": "g" * 40, "SLACK_WEBHOOK_URL": "https://hooks.example.org/x",
           "LOCUST_USERS": "1000", "GAMEPULSE_STAGING_URL": "http://127.0.0.1:9001"}
    result = run_loadtest(plan, Context(env=env, region="ap-northeast-2"), runner=locust,
                          probe=NoDns())
    given = locust.calls[0]
    assert sorted(given["env"]) == ["GAMEPULSE_STAGING_URL", "PATH"]
    assert (given["host"], given["users"], given["duration"]) == (plan.url, 10, 20)
    assert result.passed and result.figures.rps == 4.0
    summary = json.loads(plan.summary_path.read_text())
    assert summary["passed"] is True and summary["figures"]["requests"] == 40
    assert plan.plot_path.read_bytes().startswith(b"\x89PNG")
    enforce(result)  # passes: nothing raised


@pytest.mark.parametrize(("locust", "says"), [
    (FakeLocust(exit_code=1), r"Locust exited with code 1 \(ImportError: no module named x\)"),
    (FakeLocust(exit_code=None), "Locust did not finish within 41s and was stopped"),
    (FakeLocust(stats=None), "Locust's statistics .*locust.json could not be read"),
])
def test_a_run_that_did_not_complete_fails_with_exit_17(project: Path, locust: FakeLocust,
                                                        says: str) -> None:
    plan = _plan(project)
    result = run_loadtest(plan, Context(env={}, region="ap-northeast-2"), runner=locust,
                          probe=NoDns())
    assert not result.passed
    with pytest.raises(ChecksFailedError, match=says) as raised:
        enforce(result)
    assert raised.value.exit_code == ExitCode.CHECKS == 17
    assert json.loads(plan.summary_path.read_text())["passed"] is False


def test_a_name_that_resolves_to_a_private_address_is_refused_before_locust_runs(
        project: Path) -> None:
    class Private:
        def addresses(self, host: str, port: int) -> list[str]:
            return ["10.1.2.3"]

    plan = _plan(project, env={"STAGING_URL": "https://staging.example.org"})
    locust = FakeLocust()
    with pytest.raises(ConfigError, match=r"staging\.example\.org resolves to 10\.1\.2\.3"):
        run_loadtest(plan, Context(env={}, region="ap-northeast-2"), runner=locust,
                     probe=Private())  # type: ignore[arg-type]
    assert locust.calls == []
