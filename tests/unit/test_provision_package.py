"""Lambda code given as a local path, packaged for the sandbox as `aws cloudformation package`
would: a deterministic zip, checked before anything is written."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from shipyard_sandbox.provision.package import package_local_code, zip_folder
from shipyard_sandbox.provision.report import ProvisionError


class RecordingAws:
    account_id, region = "123456789012", "ap-northeast-2"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, service: str) -> Any:
        aws = self

        class Client:
            def __getattr__(self, operation: str) -> Any:
                return lambda **kwargs: aws.calls.append((service, operation, kwargs)) or {}

        return Client()


def hooks_folder(root: Path) -> Path:
    folder = root / "hooks" / "src"
    (folder / "pkg" / "__pycache__").mkdir(parents=True)
    (folder / "pkg" / "__init__.py").write_text("")
    (folder / "pkg" / "handlers.py").write_text("def handler(event, context): pass\n")
    (folder / "pkg" / "__pycache__" / "handlers.cpython-311.pyc").write_bytes(b"x")
    return folder


def template(code: str) -> dict[str, Any]:
    return {"Resources": {"Hook": {"Type": "AWS::Lambda::Function",
                                   "Properties": {"Code": code, "Handler": "pkg.handlers.h"}},
                          "Other": {"Type": "AWS::SNS::Topic", "Properties": {}}}}


def test_the_zip_holds_the_sources_only_and_is_the_same_every_time(tmp_path: Path) -> None:
    folder = hooks_folder(tmp_path)
    first = zip_folder(folder)
    assert zipfile.ZipFile(io.BytesIO(first)).namelist() == ["pkg/__init__.py",
                                                             "pkg/handlers.py"]
    (folder / "pkg" / "handlers.py").touch()  # a new mtime changes nothing
    assert zip_folder(folder) == first


def test_code_becomes_an_s3_location_and_is_uploaded_when_asked(tmp_path: Path) -> None:
    hooks_folder(tmp_path)
    body, aws = template("../hooks/src"), RecordingAws()
    upload = package_local_code(aws, body, tmp_path / "infra")  # type: ignore[arg-type]
    code = body["Resources"]["Hook"]["Properties"]["Code"]
    assert code["S3Bucket"] == "shipyard-sandbox-packages-123456789012-ap-northeast-2"
    assert code["S3Key"].endswith(".zip")
    assert aws.calls == []  # nothing written before the provisioner says so
    upload()
    assert [(service, operation) for service, operation, _ in aws.calls] == [
        ("s3", "head_bucket"), ("s3", "put_object")]
    assert aws.calls[-1][2]["Key"] == code["S3Key"]


def test_a_missing_path_is_refused_before_any_write(tmp_path: Path) -> None:
    aws = RecordingAws()
    with pytest.raises(ProvisionError, match=r"Hook: Code \.\./nowhere is not a folder or a "
                                             r"\.zip file"):
        package_local_code(aws, template("../nowhere"), tmp_path)  # type: ignore[arg-type]
    assert aws.calls == []
