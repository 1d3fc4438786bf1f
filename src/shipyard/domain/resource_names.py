"""The names a service's AWS resources take, as one set of rules.

A service name becomes an ECR repository, an ECS service, a task family, a container name
and IAM role names; each API has its own grammar, and these are the parts all of them accept.
The messages say what is wrong and what to use instead. The repository grammar itself lives
in `names`, with the other image-name rules.
"""

from __future__ import annotations

import re

from shipyard.domain.names import is_valid_repository

EXAMPLE_REGION = "ap-northeast-2"
NAME_MAX_LENGTH = 40
IAM_ROLE_MAX_LENGTH = 64

# Lowercase (ECR), no '.' or '/' (task families and container names take neither).
_NAME = re.compile(r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$")
_NOT_NAME = re.compile(r"[^a-z0-9]+")
_CLUSTER = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
# The shape of every AWS region name: us-east-1, us-gov-west-1, us-isob-east-1, eusc-de-east-1.
_REGION = re.compile(r"[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}")


def name_from_folder(folder: str) -> str:
    """A service name from a folder name: lowercase, each run of other characters one '-'.

    >>> name_from_folder("Game Pulse_API")
    'game-pulse-api'
    """
    slug = _NOT_NAME.sub("-", folder.lower()).strip("-")[:NAME_MAX_LENGTH].strip("-")
    return slug if len(slug) >= 2 else "service"


def name_problem(name: str, what: str = "--name") -> str | None:
    """Why `name` cannot name a service (or, with `what="--environment"`, an environment)."""
    if _NAME.match(name) and 2 <= len(name) <= NAME_MAX_LENGTH:
        return None
    uses = ("the ECR repository, task family, container and IAM roles" if what == "--name"
            else "the ECS service, task family, log group and IAM roles")
    return (f"{what} '{name}' is not a valid name (2-{NAME_MAX_LENGTH} lowercase letters and "
            f"digits, with single '-' or '_' between them: it names {uses}); "
            f"try '{name_from_folder(name)}'")


def repository_problem(repository: str) -> str | None:
    """Why `repository` cannot name an ECR repository, or None when it can."""
    if is_valid_repository(repository) and len(repository) >= 2:  # ECR: 2-256 characters
        return None
    return (f"--repository '{repository}' is not a valid ECR repository name; use lowercase "
            "letters and digits with '.', '_' or '-' between them and '/' between parts, "
            "such as team/my-service")


def cluster_problem(cluster: str) -> str | None:
    """Why `cluster` cannot name an ECS cluster, or None when it can."""
    if _CLUSTER.match(cluster):
        return None
    return (f"--cluster '{cluster}' is not a valid ECS cluster name; use 1-255 letters, "
            "digits, '-' and '_'")


def is_region(region: str) -> bool:
    """Whether `region` is shaped like an AWS region name (fullmatch: no trailing newline)."""
    return _REGION.fullmatch(region) is not None


def region_problem(region: str) -> str | None:
    """Why `region` is not an AWS region name, or None when it looks like one."""
    if is_region(region):
        return None
    return f"--region '{region}' is not an AWS region name; use one such as {EXAMPLE_REGION}"


def role_name_problem(role: str) -> str | None:
    """IAM role names are at most 64 characters."""
    if len(role) <= IAM_ROLE_MAX_LENGTH:
        return None
    return (f"the IAM role name '{role}' is longer than IAM's {IAM_ROLE_MAX_LENGTH} characters; "
            "pick a shorter --name or environment")
