"""Paths Shipyard writes stay inside the project folder (issue 8, item 4).

Every setting naming a place Shipyard writes (version.file, build.output, scan.reports_dir,
demo.base_image_layout) is refused at config load when it leads out of the project folder —
by `..` or an absolute path — with exit 3 and one line naming the key; nothing is written.
A symlink inside the project folder is its owner's doing and is followed as it is.
"""

from __future__ import annotations

import pytest

from shipyard.config import WRITTEN_PATHS

KEYS = [f"{section}.{key}" for section, key in WRITTEN_PATHS]


def setting(key: str, value: str) -> str:
    section, name = key.split(".")
    return f'[{section}]\n{name} = "{value}"\n'


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("how", ["dotdot", "absolute"])
def test_a_written_path_outside_the_project_is_refused(repo, shipyard, tmp_path, key,
                                                        how) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "outside.txt").write_text("1.0.0\n")
    value = "../../outside/outside.txt" if how == "dotdot" else str(outside / "outside.txt")
    repo.commit("config", shipyard__toml=setting(key, value))
    before, outside_before = repo.state(), sorted(outside.rglob("*"))
    result = shipyard(repo, "version", "--write", "--git-tag")
    assert result.code == 3, result.err
    assert result.out == ""
    assert result.err == (f"error: {repo.project / 'shipyard.toml'}: {key}: {value} is outside "
                          f"the project folder {repo.project}, and Shipyard writes only inside "
                          "it; use a path inside the project folder\n")
    assert repo.state() == before
    assert sorted(outside.rglob("*")) == outside_before
    assert (outside / "outside.txt").read_text() == "1.0.0\n"


@pytest.mark.parametrize("key", KEYS)
def test_paths_inside_the_project_are_fine(repo, shipyard, key) -> None:
    # An absolute path into the project, and a `..` that comes back into it, are inside.
    value = (str(repo.project / "version.txt") if key == "version.file"
             else f"../{repo.project.name}/out")
    repo.commit("config", shipyard__toml=setting(key, value))
    result = shipyard(repo, "version")
    assert result.code == 0, result.err
    assert result.out == "1.1.0\n"


def test_version_write_rewrites_only_inside(repo, shipyard, tmp_path) -> None:
    """The issue's example: version.file = "../outside.txt" rewrote a file outside, exit 0."""
    outside = repo.project.parent / "outside.txt"
    outside.write_text("1.0.0\n")
    repo.commit("config", shipyard__toml='[version]\nfile = "../outside.txt"\n')
    before = repo.state()
    result = shipyard(repo, "version", "--write")
    assert result.code == 3 and "version.file: ../outside.txt is outside" in result.err
    assert outside.read_text() == "1.0.0\n" and repo.state() == before


def test_a_symlinked_folder_inside_the_project_is_followed(repo, shipyard, tmp_path) -> None:
    """`.shipyard` linked to a cache elsewhere, as the README's examples do: not refused."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (repo.project / ".shipyard").symlink_to(cache)
    repo.commit("config", shipyard__toml='[build]\noutput = ".shipyard/oci"\n')
    result = shipyard(repo, "version")
    assert result.code == 0, result.err
