"""shipyard.toml: defaults without a file, the GamePulse file, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.config import load_config
from shipyard.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config.source_file is None
    assert config.version_file == tmp_path.resolve() / "version.txt"
    assert config.version.tag_prefix == "v"
    assert [r.pattern for r in config.version.branches] == ["main", "master", "develop"]
    assert config.version.pull_request.prerelease == "pr-{pr}"
    assert config.tags.latest == "auto"
    assert (config.service.name, config.service.region, config.service.repository) == (
        "gamepulse", "ap-northeast-2", "gamepulse")


def test_gamepulse_config_matches_the_brief() -> None:
    config = load_config(ROOT / "GamePulse")
    assert config.service.region == "ap-northeast-2"
    assert config.service.repository == "gamepulse"
    assert (ROOT / "GamePulse" / "version.txt").read_text().strip() == "1.0.0"


def test_relative_version_file_resolves_against_project(tmp_path: Path) -> None:
    (tmp_path / "shipyard.toml").write_text('[version]\nfile = "meta/VERSION"\n')
    assert load_config(tmp_path).version_file == tmp_path.resolve() / "meta" / "VERSION"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        # TOML syntax error: names the file and says to fix the syntax
        ("[service\nname='x'", "not valid TOML"),
        # unknown key, named with its full path
        ("[service]\nnmae = 'x'", "service.nmae: unknown setting"),
        # unknown section
        ("[servce]\nname = 'x'", "servce: unknown setting"),
        # wrong enum value, listing what is allowed
        ("[[version.branches]]\npattern = 'main'\nbump = 'huge'",
         "version.branches.0.bump: Input should be 'major', 'minor' or 'patch'"),
        # a rule without a pattern
        ("[[version.branches]]\nbump = 'minor'", "version.branches.0.pattern: Field required"),
        # unknown placeholder in a prerelease template
        ("[version.pull_request]\nprerelease = 'pr-{number}'", "unknown placeholder {number}"),
        # characters a prerelease cannot hold
        ("[version.other_branches]\nprerelease = 'feat/{slug}'", "may hold only letters"),
        # a numeric prerelease part with a leading zero is not semver
        ("[version.pull_request]\nprerelease = 'rc.01'", "does not make a valid semver"),
        # wrong type
        ("[tags]\nlatest = 'sometimes'", "tags.latest"),
        # reserved internal names are not settings
        ("project_dir = '/'", "'project_dir' is not a setting"),
        # a lifecycle pattern that would let ECR expire what may run or be needed
        ("[cleanup]\nnever_deployed = ['*']", "cleanup.never_deployed"),
        ("[cleanup]\nnever_deployed = ['develop']", "would also select tags such as"),
        ("[cleanup]\nkeep_releases = 0", "cleanup.keep_releases"),
    ],
)
def test_bad_config_is_one_line_naming_file_and_key(tmp_path: Path, toml: str, message: str
                                                    ) -> None:
    path = tmp_path / "shipyard.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    text = str(caught.value)
    assert str(path) in text
    assert message in text
    assert "\n" not in text


def test_missing_project_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist; pass an existing folder to -C"):
        load_config(tmp_path / "nope")
