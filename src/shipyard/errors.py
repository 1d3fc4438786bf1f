"""Shipyard's errors: one base class, each subclass carrying its process exit code.

The hierarchy::

    ShipyardError            1  anything unexpected that we still name
    ├── UsageError           2  a flag value or combination that cannot work
    ├── ConfigError          3  shipyard.toml is unreadable or invalid
    ├── VersionFileError     4  version.txt is missing, empty or not a stable semver
    ├── GitError             5  not a git repository, no commits, git failed
    ├── ConflictError        6  what we would create exists: a git tag, an immutable image tag
    ├── RegistryError        7  the OCI registry failed or answered what the protocol forbids
    ├── AuthError            8  credentials are missing or refused (registry, AWS)
    ├── AwsError             9  an AWS API call failed
    ├── BuildError          10  the image build failed, or a builder/emulator is missing
    ├── ScanGateError       11  scan findings reached the configured severity threshold
    ├── SandboxError        12  the local sandbox could not start, or is not running
    ├── VerificationError   13  `verify` found what a deploy would trip on
    ├── NotFoundError       14  what the command names does not exist (an image, a repository)
    ├── DeploymentError     15  a deployment failed, was rolled back, stopped or timed out
    ├── ApprovalError       16  the environment requires an approval that was not given
    ├── ChecksFailedError   17  checks against a running service failed (`smoke`)
    ├── SignatureError      18  an image is unsigned, or no signature verifies with the keys
    ├── PolicyError         19  the image does not meet the environment's compliance policy
    └── DiagnosisError      20  `doctor` found a failing check

Every message is one line that names the bad input and says how to fix it. The CLI maps an
error to its exit code in exactly one place (``shipyard.cli.main``).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes; the README's table is generated from the same numbers."""

    OK = 0
    FAILURE = 1
    USAGE = 2
    CONFIG = 3
    VERSION_FILE = 4
    GIT = 5
    CONFLICT = 6
    REGISTRY = 7
    AUTH = 8
    AWS = 9
    BUILD = 10
    SCAN_GATE = 11
    SANDBOX = 12
    VERIFICATION = 13
    NOT_FOUND = 14
    DEPLOYMENT = 15
    APPROVAL = 16
    CHECKS = 17
    SIGNATURE = 18
    POLICY = 19
    DIAGNOSIS = 20


class ShipyardError(Exception):
    """Base class: a failure we can explain in one line."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(ShipyardError):
    """A flag value or combination of flags that cannot work."""

    exit_code = ExitCode.USAGE


class ConfigError(ShipyardError):
    """shipyard.toml cannot be read or does not validate."""

    exit_code = ExitCode.CONFIG


class VersionFileError(ShipyardError):
    """The version file is missing, empty or not a stable semantic version."""

    exit_code = ExitCode.VERSION_FILE


class GitError(ShipyardError):
    """Git cannot answer: not a repository, no commits yet, or the command failed."""

    exit_code = ExitCode.GIT


class ConflictError(ShipyardError):
    """What we would create already exists, so we stop instead of overwriting it."""

    exit_code = ExitCode.CONFLICT


class RegistryError(ShipyardError):
    """The registry failed after retries, or answered against the distribution spec."""

    exit_code = ExitCode.REGISTRY


class AuthError(ShipyardError):
    """Credentials are missing or were refused."""

    exit_code = ExitCode.AUTH


class AwsError(ShipyardError):
    """An AWS API call failed; the message names the API and the fix."""

    exit_code = ExitCode.AWS


class BuildError(ShipyardError):
    """The image build failed, or what it needs (builder, emulator) is missing."""

    exit_code = ExitCode.BUILD


class ScanGateError(ShipyardError):
    """Vulnerability findings reached the configured threshold."""

    exit_code = ExitCode.SCAN_GATE


class SandboxError(ShipyardError):
    """The local sandbox could not be started, or is not running."""

    exit_code = ExitCode.SANDBOX


class VerificationError(ShipyardError):
    """A check before deploying failed: a resource the task needs is missing or mismatched."""

    exit_code = ExitCode.VERIFICATION


class NotFoundError(ShipyardError):
    """What the command names (an image, a repository, a service) does not exist."""

    exit_code = ExitCode.NOT_FOUND


class DeploymentError(ShipyardError):
    """A deployment started and did not succeed: it failed, was rolled back or stopped, timed
    out, or the service did not answer its health check afterwards."""

    exit_code = ExitCode.DEPLOYMENT


class ApprovalError(ShipyardError):
    """The environment requires an approval (`require_approval`) and none was given."""

    exit_code = ExitCode.APPROVAL


class ChecksFailedError(ShipyardError):
    """Checks against the running service failed (a smoke check); the report says which."""

    exit_code = ExitCode.CHECKS


class SignatureError(ShipyardError):
    """An image (or a platform image of it) has no signature that verifies with the keys."""

    exit_code = ExitCode.SIGNATURE


class PolicyError(ShipyardError):
    """The image fails a rule of the environment's compliance policy (`deploy`'s gate)."""

    exit_code = ExitCode.POLICY


class DiagnosisError(ShipyardError):
    """`shipyard doctor` found a check that fails (the checklist says which and the fix)."""

    exit_code = ExitCode.DIAGNOSIS
