"""Build args as `shipyard.toml` writes them, filled in: the shell's `${VAR}` forms, one level
deep, plus the push target's own names.

| written                 | is                                                            |
|-------------------------|---------------------------------------------------------------|
| `${NAME}`               | the environment variable NAME (set and not empty, or an error) |
| `${NAME:-default}`      | NAME, or the default when NAME is unset or empty               |
| `${NAME:-${OTHER}/x}`   | a default may hold references itself (one level: no deeper)    |
| `${registry}`           | the push target's registry host (`127.0.0.1:5000`, ECR's host) |
| `${account_id}`, `${region}` | the push target's account and region                      |

Lower-case names are the push target's (environment variables are upper case by custom); any
other lower-case name is a configuration error, found even where a default would hide it. A `$`
not followed by `{` is plain text.

>>> expand("BASE", "${BASE_IMAGE:-${registry}/base:12}", {}, {"registry": "127.0.0.1:5000"})
'127.0.0.1:5000/base:12'
"""

from __future__ import annotations

from collections.abc import Mapping

from shipyard.domain.references import FORMS, names, substitute, well_formed
from shipyard.errors import ConfigError, UsageError

TARGET_NAMES = ("registry", "account_id", "region")
# What to do when one of them is not known where the build is planned.
_TARGET_FIX = {"registry": "it is known only when pushing",
               "account_id": "set AWS_ACCOUNT_ID",
               "region": "set AWS_REGION"}


def expand(arg: str, value: str, env: Mapping[str, str], target: Mapping[str, str]) -> str:
    """`value` of build arg `arg` with every reference filled from `env` and `target` (the
    push target's `registry`, `account_id` and `region`; an empty or missing one is unknown).

    Raises ConfigError when `value` is not in the grammar or names an unknown lower-case name,
    UsageError when a reference it needs is unset and has no default.
    """
    if not well_formed(value):
        raise ConfigError(f"build.args.{arg} = {value!r} is not understood; write {FORMS}")
    for name in names(value):
        if name.islower() and name not in TARGET_NAMES:
            raise ConfigError(
                f"build arg {arg} uses ${{{name}}}, which is not a name Shipyard knows; "
                "lower-case names are the push target's ${registry}, ${account_id} and "
                f"${{region}} (environment variables are upper case): fix build.args.{arg}")

    def known(name: str) -> str | None:
        return target.get(name) if name.islower() else env.get(name)

    def missing(name: str) -> str:
        if name.islower():
            raise UsageError(f"build arg {arg} uses ${{{name}}}, the push target's {name}, "
                             f"which is not known here; {_TARGET_FIX[name]}, or give "
                             f"build.args.{arg} a default")
        raise UsageError(f"build arg {arg} uses ${{{name}}}, which is not set; "
                         f"export {name} or change build.args.{arg}")

    return substitute(value, known, missing)
