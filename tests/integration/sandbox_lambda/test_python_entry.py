"""`bridge.invoke`, the call other sandbox parts (CodeDeploy's hooks) make, in-process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.awslambda.exceptions import UnknownFunctionException
from moto.server import ThreadedMotoServer

from shipyard_sandbox.lambdas import bridge
from shipyard_sandbox.lambdas.runner import InvokeRefused, LambdaRunner
from shipyard_sandbox.registry import free_port

pytestmark = pytest.mark.integration

REGION = "ap-northeast-2"
ACCOUNT = "123456789012"
BOUND = 15.0  # seconds an Event invocation is given to run (bounds a hang, not a timing)
SOURCE = """
import boto3
def handler(event, context):
    boto3.client("ssm").put_parameter(Name=event["name"], Value=event["value"],
                                      Type="String", Overwrite=True)
    return {"hook": context.function_name, "value": event["value"]}
"""


@pytest.fixture
def in_process(tmp_path: Path) -> Iterator:
    """moto in this process with Invoke patched; aws(service) -> a boto3 client on it."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    runner = LambdaRunner(tmp_path, aws_endpoint=endpoint, credentials=bridge.role_credentials)
    uninstall = bridge.install(runner, account_id=ACCOUNT, region=REGION)

    def aws(service: str):
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint,
                            aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
    try:
        yield aws
    finally:
        runner.stop()
        uninstall()
        server.stop()


def test_invoke_waits_for_the_result_or_queues_the_event(in_process, zip_of):
    aws = in_process
    role = aws("iam").create_role(RoleName="entry-hook", AssumeRolePolicyDocument="{}")
    arn = aws("lambda").create_function(
        FunctionName="entry-hook", Runtime="python3.13", Role=role["Role"]["Arn"],
        Handler="app.handler", Code={"ZipFile": zip_of({"app.py": SOURCE})})["FunctionArn"]
    result = bridge.invoke("entry-hook", {"name": "/entry/sync", "value": "now"}, wait=True)
    assert (result.status, result.function_error) == (200, None)
    assert result.json() == {"hook": "entry-hook", "value": "now"}
    assert b"START RequestId: " + result.request_id.encode() in result.log_tail

    queued = bridge.invoke(arn, {"name": "/entry/async", "value": "later"}, wait=False)
    assert (queued.status, queued.payload) == (202, b"")
    ssm = aws("ssm")
    deadline = time.monotonic() + BOUND
    value = None
    while value is None and time.monotonic() < deadline:
        try:
            value = ssm.get_parameter(Name="/entry/async")["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            time.sleep(0.1)
    assert value == "later"


def test_invoke_raises_what_invoke_would_answer(in_process, zip_of):
    aws = in_process
    role = aws("iam").create_role(RoleName="ruby-hook", AssumeRolePolicyDocument="{}")
    aws("lambda").create_function(
        FunctionName="ruby-hook", Runtime="ruby3.3", Role=role["Role"]["Arn"],
        Handler="app.handler", Code={"ZipFile": zip_of({"app.rb": "def handler; end"})})
    with pytest.raises(UnknownFunctionException):
        bridge.invoke("no-such-hook", {}, wait=True)
    with pytest.raises(InvokeRefused) as refused:
        bridge.invoke("ruby-hook", {}, wait=True)
    assert refused.value.code == "InvalidRuntimeException"
