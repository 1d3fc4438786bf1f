"""Build-arg references: the environment's `${VAR}` forms, one level deep, and the push
target's `${registry}`, `${account_id}` and `${region}`."""

from __future__ import annotations

import pytest

from shipyard.domain.build_args import expand
from shipyard.errors import ConfigError, UsageError

TARGET = {"registry": "127.0.0.1:5000", "account_id": "123456789012",
          "region": "ap-northeast-2"}


@pytest.mark.parametrize(("value", "env", "expected"), [
    ("plain", {}, "plain"),  # no reference
    ("${BASE}", {"BASE": "debian:12"}, "debian:12"),  # set
    ("${BASE:-debian:12}", {}, "debian:12"),  # unset: the default
    ("${BASE:-debian:12}", {"BASE": ""}, "debian:12"),  # empty counts as unset, as with :-
    ("${BASE:-}", {}, ""),  # an empty default is a default
    ("${REG}/base:${TAG:-1}", {"REG": "r:5000"}, "r:5000/base:1"),  # several in one value
    ("${registry}/base", {}, "127.0.0.1:5000/base"),  # the push target's names
    ("${account_id}.${region}", {}, "123456789012.ap-northeast-2"),
    ("${registry}", {"registry": "from-env"}, "127.0.0.1:5000"),  # never the environment's
    ("${BASE:-${registry}/gamepulse-base:bookworm}", {},
     "127.0.0.1:5000/gamepulse-base:bookworm"),  # GamePulse's: the sandbox provides the base
    ("${BASE:-${registry}/gamepulse-base:bookworm}", {"BASE": "mine:1"}, "mine:1"),
    ("${BASE:-${MIRROR:-docker.io}/debian}", {}, "docker.io/debian"),  # nested default
    ("${BASE:-${MIRROR:-docker.io}/debian}", {"MIRROR": "m.example"}, "m.example/debian"),
    ("${BASE:-a${X}b${Y:-c}d}", {"X": "1"}, "a1bcd"),  # text around nested references
    ("price $5 {braces}", {}, "price $5 {braces}"),  # `$` without `{`, braces: text
    ("${BASE:-$HOME}", {}, "$HOME"),  # `$NAME` (no braces) is not a reference
])
def test_expand(value: str, env: dict[str, str], expected: str) -> None:
    assert expand("ARG", value, env, TARGET) == expected


@pytest.mark.parametrize(("value", "target", "message"), [
    # an unknown lower-case name is a configuration error, even behind a default or a set var
    ("${regsitry}/base", TARGET, r"build arg ARG uses \$\{regsitry\}, which is not a name "
     r"Shipyard knows; .*fix build.args.ARG"),
    ("${SET:-${acount_id}}", TARGET, r"uses \$\{acount_id\}, which is not a name"),
    # not the grammar: two levels of nesting, an unclosed reference, a brace in a default
    ("${A:-${B:-${C}}}", TARGET, r"build.args.ARG = .* is not understood; .*one level"),
    ("${A", TARGET, "is not understood"),
    ("${A:-{x}", TARGET, "is not understood"),
    ("${}", TARGET, "is not understood"),
])
def test_config_errors(value: str, target: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        expand("ARG", value, {"SET": "x"}, target)


@pytest.mark.parametrize(("value", "target", "message"), [
    ("${NOPE}", TARGET, r"build arg ARG uses \$\{NOPE\}, which is not set; export NOPE or "
     r"change build.args.ARG"),
    ("${A:-${NOPE}}", TARGET, r"uses \$\{NOPE\}, which is not set"),  # nested, unset, no default
    ("${registry}/x", {}, r"uses \$\{registry\}, the push target's registry, which is not "
     "known here; it is known only when pushing"),
    ("${account_id}", {"account_id": ""}, "not known here; set AWS_ACCOUNT_ID"),
])
def test_unset_references_are_usage_errors(value: str, target: dict[str, str],
                                           message: str) -> None:
    with pytest.raises(UsageError, match=message):
        expand("ARG", value, {}, target)


def test_unknown_target_name_falls_back_to_its_default() -> None:
    assert expand("ARG", "${registry:-docker.io}/x", {}, {}) == "docker.io/x"
