"""Invoke runs the zipped Python handler and answers as Lambda does."""

from __future__ import annotations

import base64
import json
import re

import pytest

pytestmark = pytest.mark.integration

ECHO = """
def handler(event, context):
    return {"doubled": [n * 2 for n in event["numbers"]], "note": event.get("note")}
"""


def invoke(aws, name: str, payload, **arguments) -> tuple[dict, object]:
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(payload), **arguments)
    return response, json.loads(response["Payload"].read())


def test_the_handler_s_return_value_is_the_payload(aws, make_function):
    name = make_function({"app.py": ECHO})
    response, result = invoke(aws, name, {"numbers": [1, 2, 20], "note": "héllo"})
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert result == {"doubled": [2, 4, 40], "note": "héllo"}


def test_moto_s_whole_state_still_reads_with_functions_in_it(aws, make_function, sandbox):
    # moto's functions reach for docker when every attribute is read (its data.json does)
    import urllib.request

    invoke(aws, make_function({"app.py": ECHO}), {"numbers": []})
    with urllib.request.urlopen(f"{sandbox['AWS_ENDPOINT_URL']}/moto-api/data.json",
                                timeout=60) as answer:
        assert answer.status == 200 and json.loads(answer.read())["awslambda"]


def test_the_handler_sees_its_environment_and_context(aws, make_function, sandbox):
    source = """
import os
def handler(event, context):
    names = ["GREETING", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME",
             "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_ENDPOINT_URL", "AWS_EXECUTION_ENV"]
    return {"env": {n: os.environ.get(n) for n in names},
            "context": {"function_name": context.function_name,
                        "function_version": context.function_version,
                        "invoked_function_arn": context.invoked_function_arn,
                        "memory_limit_in_mb": int(context.memory_limit_in_mb),
                        "aws_request_id": context.aws_request_id,
                        "log_group_name": context.log_group_name,
                        "log_stream_name": context.log_stream_name,
                        "remaining": context.get_remaining_time_in_millis()}}
"""
    name = make_function({"app.py": source}, Timeout=7, MemorySize=256,
                         Environment={"Variables": {
                             "GREETING": "hi there",
                             "AWS_ENDPOINT_URL": "https://elsewhere.invalid"}})
    arn = aws("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    _, result = invoke(aws, arn, {})
    region = sandbox["AWS_REGION"]
    assert result["env"] == {
        "GREETING": "hi there", "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_ENDPOINT_URL": sandbox["AWS_ENDPOINT_URL"],
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"}
    context = result["context"]
    assert context["function_name"] == name
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == arn
    assert context["memory_limit_in_mb"] == 256
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                        context["aws_request_id"])
    assert context["log_group_name"] == f"/aws/lambda/{name}"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", context["log_stream_name"])
    assert 0 < context["remaining"] <= 7000


def test_an_exception_is_an_unhandled_function_error(aws, make_function):
    source = "def handler(event, context):\n    raise KeyError('missing-thing')\n"
    name = make_function({"app.py": source})
    response, result = invoke(aws, name, {})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "KeyError"
    assert result["errorMessage"] == "'missing-thing'"
    assert re.fullmatch(r"[0-9a-f-]{36}", result["requestId"])
    assert len(result["stackTrace"]) == 1
    assert "app.py\", line 2, in handler" in result["stackTrace"][0]
    assert "raise KeyError('missing-thing')" in result["stackTrace"][0]


@pytest.mark.parametrize(("handler", "error_type", "message"), [
    ("nowhere.handler", "Runtime.ImportModuleError",
     "Unable to import module 'nowhere': No module named 'nowhere'"),
    ("app.absent", "Runtime.HandlerNotFound", "Handler 'absent' missing on module 'app'"),
])
def test_a_handler_that_cannot_be_loaded_says_why(aws, make_function, handler, error_type,
                                                  message):
    name = make_function({"app.py": ECHO}, handler=handler)
    response, result = invoke(aws, name, {})
    assert response["FunctionError"] == "Unhandled"
    assert (result["errorType"], result["errorMessage"]) == (error_type, message)


def test_a_handler_past_its_timeout_is_killed_with_what_it_started(aws, make_function, running):
    source = """
import subprocess, time
def handler(event, context):
    child = subprocess.Popen(["sleep", "300"])
    print("child", child.pid, flush=True)
    time.sleep(60)
"""
    name = make_function({"app.py": source}, Timeout=1)
    response, result = invoke(aws, name, {}, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "Sandbox.Timedout"
    assert result["errorMessage"].endswith(" Task timed out after 1.00 seconds")
    log = base64.b64decode(response["LogResult"]).decode()
    assert "Task timed out after 1.00 seconds" in log
    assert "Status: timeout" in log
    child = int(re.search(r"^child (\d+)$", log, re.MULTILINE).group(1))
    assert not running(child)


@pytest.mark.parametrize(("source", "cause"), [
    ("import os\ndef handler(e, c):\n    os._exit(3)\n", "exit status 3"),
    ("import os, signal\ndef handler(e, c):\n    os.kill(os.getpid(), signal.SIGKILL)\n",
     "signal: killed"),
])
def test_a_runtime_that_exits_without_answering_is_an_exit_error(aws, make_function, source,
                                                                  cause):
    name = make_function({"app.py": source})
    response, result = invoke(aws, name, {})
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "Runtime.ExitError"
    assert result["errorMessage"].endswith(f" Error: Runtime exited with error: {cause}")


def test_new_code_runs_after_update_function_code(aws, make_function, zip_of):
    name = make_function({"app.py": "def handler(e, c):\n    return 'first'\n"})
    assert invoke(aws, name, {})[1] == "first"
    aws("lambda").update_function_code(
        FunctionName=name, ZipFile=zip_of({"app.py": "def handler(e, c):\n    return 'second'\n"}))
    assert invoke(aws, name, {})[1] == "second"


def test_a_qualifier_runs_that_version(aws, make_function, zip_of):
    source = "def handler(e, c):\n    return [%r, c.function_version, c.invoked_function_arn]\n"
    name = make_function({"app.py": source % "one"}, Publish=True)
    client = aws("lambda")
    client.update_function_code(FunctionName=name, ZipFile=zip_of({"app.py": source % "two"}))
    client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    arn = client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    for qualifier, code, version in [("1", "one", "1"), ("live", "one", "1"),
                                     ("$LATEST", "two", "$LATEST")]:
        response, result = invoke(aws, name, {}, Qualifier=qualifier)
        assert response["ExecutedVersion"] == version
        assert result == [code, version, f"{arn}:{qualifier}"]


def test_code_from_s3_runs(aws, make_function, zip_of):
    s3 = aws("s3")
    bucket = "lambda-code-bucket"
    s3.create_bucket(Bucket=bucket,
                     CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name})
    s3.put_object(Bucket=bucket, Key="hook.zip",
                  Body=zip_of({"pkg/__init__.py": "", "pkg/hook.py": ECHO}))
    name = make_function({}, handler="pkg.hook.handler",
                         Code={"S3Bucket": bucket, "S3Key": "hook.zip"})
    assert invoke(aws, name, {"numbers": [5]})[1] == {"doubled": [10], "note": None}


def test_a_payload_that_is_not_json_is_refused(aws, make_function):
    name = make_function({"app.py": ECHO})
    client = aws("lambda")
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName=name, Payload=b"{not json")


def test_a_runtime_other_than_python_is_refused(aws, make_function):
    name = make_function({"index.js": "exports.handler = async () => 1;"},
                         handler="index.handler", Runtime="nodejs20.x")
    client = aws("lambda")
    with pytest.raises(client.exceptions.InvalidRuntimeException) as refused:
        client.invoke(FunctionName=name, Payload=b"{}")
    assert "nodejs20.x is not supported" in str(refused.value)
