"""`aws cloudformation package`, for the sandbox: local code paths zipped, uploaded, replaced.

A template may give a Lambda function's `Code` as a local path relative to the template's
folder (GamePulse's `Code: ../hooks/src`), which `aws cloudformation package` turns into
{S3Bucket, S3Key}: it zips the folder (a `.zip` file is taken as it is), uploads it to the
bucket it is given, and writes the template with the object's location. Provisioning does the
same before it creates anything, into the sandbox's S3: bucket `PACKAGE_BUCKET-ACCOUNT-REGION`,
key the zip's sha256. The zip is deterministic (sorted names, one fixed time, no
`__pycache__`/`.pyc`), so an unchanged folder is the same object and the same CodeSha256, and
a second run finds the function unchanged. Only AWS::Lambda::Function's `Code` is packaged: the
one local-path property GamePulse's template uses (the CLI also packages others, such as
AWS::Serverless::Function's CodeUri, which the sandbox does not model).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from shipyard_sandbox.provision.aws import Aws, error_code
from shipyard_sandbox.provision.report import ProvisionError

PACKAGE_BUCKET = "shipyard-sandbox-packages"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: the same bytes whenever it is made
SKIPPED = ("__pycache__",)


def zip_folder(folder: Path) -> bytes:
    """The folder's files, relative to it, as `aws cloudformation package` zips them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if (not path.is_file() or path.suffix == ".pyc"
                    or any(part in SKIPPED for part in relative.parts)):
                continue
            info = zipfile.ZipInfo(relative.as_posix(), ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _make_bucket(aws: Aws, name: str) -> None:
    s3 = aws("s3")
    try:
        s3.head_bucket(Bucket=name)
    except ClientError as exc:
        if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
        where = ({} if aws.region == "us-east-1" else
                 {"CreateBucketConfiguration": {"LocationConstraint": aws.region}})
        s3.create_bucket(Bucket=name, **where)


def package_local_code(aws: Aws, template: dict[str, Any], folder: Path
                       ) -> Callable[[], None]:
    """Replace each Lambda function's local `Code` path with where its zip goes, in place, and
    return what uploads the zips: reads and checks now (a missing path is a ProvisionError
    before anything is written), writes when the provisioner has checked the parameters."""
    uploads: dict[str, bytes] = {}
    bucket = f"{PACKAGE_BUCKET}-{aws.account_id}-{aws.region}"
    for lid, resource in template["Resources"].items():
        properties = resource.get("Properties") or {}
        code = properties.get("Code")
        if resource.get("Type") != "AWS::Lambda::Function" or not isinstance(code, str):
            continue
        path = (folder / code).resolve()
        if path.is_dir():
            body = zip_folder(path)
        elif path.is_file() and path.suffix == ".zip":
            body = path.read_bytes()
        else:
            raise ProvisionError(f"{lid}: Code {code} is not a folder or a .zip file (paths are "
                                 f"relative to the template's folder, {folder})")
        key = f"{hashlib.sha256(body).hexdigest()}.zip"
        uploads[key] = body
        properties["Code"] = {"S3Bucket": bucket, "S3Key": key}

    def upload() -> None:
        if uploads:
            _make_bucket(aws, bucket)
        for key, body in uploads.items():
            aws("s3").put_object(Bucket=bucket, Key=key, Body=body)

    return upload
