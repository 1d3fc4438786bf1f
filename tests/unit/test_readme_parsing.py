"""How the README's shell examples are read (the e2e test runs them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shipyard_testing.readme_examples import output_matches, read_examples

README = """\
# Title

```sh
dev/demo    # the set-up
# a comment line
export X="a # not a comment"   # but this is

shipyard -C svc init --port 3000 \\
    --health-path /ready
```

```toml
[not]
shell = true
```

<!-- not run: needs a real AWS account and its credentials -->
<!-- exits 6 -->
```sh
shipyard push
```

<!-- before each: mkdir orders -->
```sh
$ shipyard -C orders init --yes
wrote orders/shipyard.toml
$ shipyard version
1.1.0
```
"""


def _examples(tmp_path: Path, text: str = README):
    readme = tmp_path / "README.md"
    readme.write_text(text)
    return read_examples(readme)


def test_commands_are_read_as_a_reader_types_them(tmp_path: Path) -> None:
    examples = _examples(tmp_path)
    assert [(e.line, e.command) for e in examples] == [
        (4, "dev/demo"),
        (6, 'export X="a # not a comment"'),  # a quoted # stays, a trailing comment goes
        (8, "shipyard -C svc init --port 3000 --health-path /ready"),  # \ joins lines
        (20, "shipyard push"),  # the toml block is not shell
        (25, "shipyard -C orders init --yes"),
        (27, "shipyard version"),
    ]
    assert [e.shown_output for e in examples[-2:]] == [("wrote orders/shipyard.toml",),
                                                       ("1.1.0",)]
    assert all(e.shown_output is None for e in examples[:-2])


def test_markers_above_a_fence_apply_to_each_example_of_its_block(tmp_path: Path) -> None:
    examples = {e.command: e for e in _examples(tmp_path)}
    failing = examples["shipyard push"]
    assert failing.not_run == "needs a real AWS account and its credentials"
    assert failing.exit_code == 6  # markers stack
    assert examples["shipyard version"].before_each == "mkdir orders"
    assert examples["dev/demo"].not_run is None and examples["dev/demo"].exit_code == 0


def test_a_comment_above_a_fence_that_is_no_marker_is_refused(tmp_path: Path) -> None:
    refused = re.escape("README.md:1: <!-- not-run: typo --> is not a marker")
    with pytest.raises(ValueError, match=refused):
        _examples(tmp_path, "<!-- not-run: typo -->\n```sh\nshipyard version\n```\n")


@pytest.mark.parametrize(("shown", "actual", "missing"), [
    # shas, ports and times differ from run to run; the rest must be the same
    (("1.1.0", "branch: main at 3f2a9c1 (previous 1.0.0)"),
     "1.1.0\nbranch: main at 9e8d7c6 (previous 1.0.0)\n", None),
    (("aws sts.GetCallerIdentity 200 7ms (POST http://127.0.0.1:4566/)",),
     "aws sts.GetCallerIdentity 200 13ms (POST http://127.0.0.1:45317/)\n", None),
    # lines must follow one another, unless `...` stands between them
    (("a", "c"), "a\nb\nc\n", "c"),
    (("a", "...", "c"), "a\nb\nc\n", None),
    (("a", "…", "d"), "a\nb\nc\n", "d"),
    # another version is another output
    (("1.1.0",), "1.2.0\n", "1.1.0"),
])
def test_shown_output_is_compared_where_it_is_stable(shown: tuple[str, ...], actual: str,
                                                     missing: str | None) -> None:
    assert output_matches(shown, actual) == missing


def test_the_real_readme_reads(tmp_path: Path) -> None:
    """The README's own markers are all known ones, and it has examples to run."""
    examples = read_examples(Path(__file__).resolve().parents[2] / "README.md")
    assert any(e.command.startswith("shipyard ") and e.not_run is None for e in examples)
