"""Fixtures for Lambda in the sandbox: boto3 clients on the session sandbox, a role, and
`make_function(files, ...)`, which zips handler source and creates a function of its own."""

from __future__ import annotations

import io
import itertools
import zipfile
from collections.abc import Callable

import boto3
import pytest

_names = itertools.count()


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def zip_of() -> Callable[[dict[str, str]], bytes]:
    """zip_of({name: source}) -> the bytes of a zip holding them."""
    return zipped


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(scope="session")
def running() -> Callable[[int], bool]:
    """running(pid): whether it runs; a killed process init has not reaped yet (a zombie)
    does not."""
    return _running


@pytest.fixture(scope="module")
def aws(sandbox: dict[str, str]) -> Callable[[str], object]:
    """aws(service) -> a boto3 client on the sandbox, as a user's code makes one."""
    def client(service: str):
        return boto3.client(service, region_name=sandbox["AWS_REGION"],
                            endpoint_url=sandbox["AWS_ENDPOINT_URL"],
                            aws_access_key_id=sandbox["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=sandbox["AWS_SECRET_ACCESS_KEY"])
    return client


@pytest.fixture(scope="module")
def role_arn(aws) -> str:
    iam = aws("iam")
    name = f"hook-role-{next(_names)}"
    trust = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":'
             '{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}')
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]


@pytest.fixture
def make_function(aws, role_arn: str, request) -> Callable[..., str]:
    """make_function(files, handler="app.handler", **CreateFunction args) -> its name."""
    def make(files: dict[str, str], handler: str = "app.handler", **arguments) -> str:
        name = f"{request.node.name[:40]}-{next(_names)}".replace("[", "-").replace("]", "")
        arguments.setdefault("Runtime", "python3.12")
        arguments.setdefault("Code", {"ZipFile": zipped(files)})
        aws("lambda").create_function(FunctionName=name, Role=role_arn, Handler=handler,
                                      **arguments)
        return name
    return make
