"""A handler's SDK talks to the sandbox; Event and DryRun invocations answer as Lambda does."""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.integration

BOUND = 15.0  # seconds an Event invocation is given to run (bounds a hang, not a timing)

PUT_PARAMETER = """
import boto3
def handler(event, context):
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=event["name"], Value=event["value"], Type="String",
                      Overwrite=True)
    identity = boto3.client("sts").get_caller_identity()
    return {"read": ssm.get_parameter(Name=event["name"])["Parameter"]["Value"],
            "caller": identity["Arn"]}
"""


def test_a_handler_s_boto3_calls_reach_the_sandbox_as_its_role(aws, make_function, role_arn):
    # Another function of the same role runs first: each has a session of its own name.
    aws("lambda").invoke(FunctionName=make_function({"app.py": PUT_PARAMETER}),
                         Payload=json.dumps({"name": "/hooks/first", "value": "x"}))
    name = make_function({"app.py": PUT_PARAMETER})
    response = aws("lambda").invoke(
        FunctionName=name, Payload=json.dumps({"name": f"/hooks/{name}", "value": "green"}))
    result = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, result
    assert result["read"] == "green"
    role_name = role_arn.rsplit("/", 1)[1]
    assert result["caller"].endswith(f":assumed-role/{role_name}/{name}")
    stored = aws("ssm").get_parameter(Name=f"/hooks/{name}")["Parameter"]["Value"]
    assert stored == "green"


def test_an_event_invocation_answers_202_and_runs_later(aws, make_function):
    name = make_function({"app.py": PUT_PARAMETER})
    parameter = f"/hooks/{name}"
    response = aws("lambda").invoke(FunctionName=name, InvocationType="Event",
                                    Payload=json.dumps({"name": parameter, "value": "later"}))
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    ssm = aws("ssm")
    deadline = time.monotonic() + BOUND
    value = None
    while value is None and time.monotonic() < deadline:
        try:
            value = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            time.sleep(0.1)
    assert value == "later"


def test_a_dry_run_answers_204_and_runs_nothing(aws, make_function):
    name = make_function({"app.py": PUT_PARAMETER})
    response = aws("lambda").invoke(FunctionName=name, InvocationType="DryRun",
                                    Payload=json.dumps({"name": f"/hooks/{name}", "value": "x"}))
    assert response["StatusCode"] == 204
    logs = aws("logs")
    # Nothing ran, so Lambda never created the function's log group.
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")
    ssm = aws("ssm")
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=f"/hooks/{name}")


def test_an_unknown_function_is_not_found(aws):
    client = aws("lambda")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="no-such-hook", Payload=b"{}")


def test_an_event_payload_over_lambda_s_limit_is_refused(aws, make_function):
    name = make_function({"app.py": PUT_PARAMETER})
    client = aws("lambda")
    with pytest.raises(client.exceptions.RequestTooLargeException):
        client.invoke(FunctionName=name, InvocationType="Event",
                      Payload=json.dumps({"name": "/too/big", "value": "x" * 1_100_000}))
