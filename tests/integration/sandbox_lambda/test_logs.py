"""What a handler prints lands in CloudWatch Logs between Lambda's START, END and REPORT."""

from __future__ import annotations

import base64
import json
import re

import pytest

pytestmark = pytest.mark.integration

SOURCE = """
import sys
def handler(event, context):
    print("checking", event["what"])
    print("to stderr too", file=sys.stderr)
    if event.get("fail"):
        raise RuntimeError("health check failed")
    return "ok"
"""


def stream_messages(aws, group: str) -> dict[str, list[str]]:
    logs = aws("logs")
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    return {s["logStreamName"]: [e["message"] for e in logs.get_log_events(
        logGroupName=group, logStreamName=s["logStreamName"])["events"]] for s in streams}


def test_printed_lines_are_logged_between_start_end_and_report(aws, make_function):
    name = make_function({"app.py": SOURCE}, MemorySize=192)
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps({"what": "db"}),
                                    LogType="Tail")
    streams = stream_messages(aws, f"/aws/lambda/{name}")
    assert len(streams) == 1
    [(stream, messages)] = streams.items()
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", stream)
    start = re.fullmatch(r"START RequestId: ([0-9a-f-]{36}) Version: \$LATEST", messages[0])
    assert start, messages
    invocation = start.group(1)
    assert messages[1:4] == ["checking db", "to stderr too", f"END RequestId: {invocation}"]
    report = messages[4].split("\t")
    assert report[0] == f"REPORT RequestId: {invocation}"
    assert re.fullmatch(r"Duration: \d+\.\d\d ms", report[1])
    assert re.fullmatch(r"Billed Duration: \d+ ms", report[2])
    assert report[3] == "Memory Size: 192 MB"
    assert len(messages) == 5
    tail = base64.b64decode(response["LogResult"]).decode()
    assert tail == "".join(f"{m}\n" for m in messages)


def test_a_failure_is_logged_as_the_python_runtime_logs_it(aws, make_function):
    name = make_function({"app.py": SOURCE})
    response = aws("lambda").invoke(FunctionName=name,
                                    Payload=json.dumps({"what": "api", "fail": True}))
    assert response["FunctionError"] == "Unhandled"
    assert "LogResult" not in response  # only with LogType=Tail
    [messages] = stream_messages(aws, f"/aws/lambda/{name}").values()
    error = next(m for m in messages if m.startswith("[ERROR]"))
    assert error.startswith("[ERROR] RuntimeError: health check failed\n"
                            "Traceback (most recent call last):\n")
    assert 'raise RuntimeError("health check failed")' in error
    assert messages[-2].startswith("END RequestId: ")
    assert messages[-1].startswith("REPORT RequestId: ")
