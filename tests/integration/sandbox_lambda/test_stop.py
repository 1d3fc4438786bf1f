"""`sandbox down` ends invocations still running, and what their handlers started."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import boto3
import pytest

from shipyard_sandbox import control
from shipyard_sandbox.lambdas.runner import FunctionSnapshot, LambdaRunner

pytestmark = pytest.mark.integration

BOUND = 15.0  # seconds the handler is given to start (bounds a hang, not a timing)

SOURCE = """
import json, os, subprocess, time
def handler(event, context):
    child = subprocess.Popen(["sleep", "300"])
    with open(event["pids"] + ".tmp", "w") as handle:
        json.dump([os.getpid(), child.pid], handle)
    os.rename(event["pids"] + ".tmp", event["pids"])
    time.sleep(300)
"""


def test_sandbox_down_kills_running_handlers(tmp_path: Path, zip_of, running):
    state_dir = tmp_path / "sandbox"
    endpoints, _ = control.up(state_dir, region="ap-northeast-2")
    pids_file = tmp_path / "pids.json"
    try:
        env = endpoints.environment()
        session = boto3.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                                aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                                region_name=env["AWS_REGION"])
        role = session.client("iam", endpoint_url=env["AWS_ENDPOINT_URL"]).create_role(
            RoleName="hook", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam = session.client("lambda", endpoint_url=env["AWS_ENDPOINT_URL"])
        lam.create_function(FunctionName="long-hook", Runtime="python3.12", Role=role,
                            Handler="app.handler", Timeout=600,
                            Code={"ZipFile": zip_of({"app.py": SOURCE})})
        response = lam.invoke(FunctionName="long-hook", InvocationType="Event",
                              Payload=json.dumps({"pids": str(pids_file)}))
        assert response["StatusCode"] == 202
        deadline = time.monotonic() + BOUND
        while not pids_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        pids = json.loads(pids_file.read_text())
        assert all(running(pid) for pid in pids)
    finally:
        control.down(state_dir)
    assert not any(running(pid) for pid in pids)


def test_a_sandbox_started_after_a_crash_ends_the_handlers_it_left(tmp_path: Path, zip_of,
                                                                    running):
    """The first runner is never stopped, as if its sandbox was killed; the next one on the
    same state folder ends what it left running."""
    code = zip_of({"app.py": SOURCE})
    function = FunctionSnapshot(
        account_id="123456789012", region="ap-northeast-2", name="left-behind",
        version="$LATEST", arn="arn:aws:lambda:ap-northeast-2:123456789012:function:x",
        handler="app.handler", runtime="python3.12", package_type="Zip", timeout=600,
        memory_mb=128, environment={}, role="arn:aws:iam::123456789012:role/x", code=code,
        code_sha256=hashlib.sha256(code).hexdigest())
    pids_file = tmp_path / "pids.json"
    crashed = LambdaRunner(tmp_path / "state", aws_endpoint="http://127.0.0.1:9",
                           credentials=lambda fn: {})
    try:
        crashed.submit(function, json.dumps({"pids": str(pids_file)}).encode(), function.arn)
        deadline = time.monotonic() + BOUND
        while not pids_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        pids = json.loads(pids_file.read_text())
        assert all(running(pid) for pid in pids)
        LambdaRunner(tmp_path / "state", aws_endpoint="http://127.0.0.1:9",
                     credentials=lambda fn: {}).stop()
        assert not any(running(pid) for pid in pids)
    finally:
        crashed.stop()
