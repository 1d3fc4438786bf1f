"""The not-AWS answer check knows which protocol each client speaks: CodeDeploy and CloudWatch
list smithy-rpc-v2-cbor first, and botocore speaks JSON to them."""

from __future__ import annotations

import botocore.session
import pytest

from shipyard.adapters.aws import NotAnAwsAnswer, _refuse_foreign_answers


def _client(service: str):
    session = botocore.session.get_session()
    return _refuse_foreign_answers(session.create_client(
        service, region_name="ap-northeast-2", endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x", aws_secret_access_key="y"))


def _answer(client, operation: str, body: bytes) -> None:
    model = client.meta.service_model.operation_model(operation)
    client.meta.events.emit(f"before-parse.{client.meta.service_model.service_id.hyphenize()}"
                            f".{operation}", operation_model=model,
                            response_dict={"status_code": 200, "body": body, "headers": {}},
                            customized_response_dict={})


@pytest.mark.parametrize(("service", "operation", "body"), [
    ("codedeploy", "GetDeployment", b'{"deploymentInfo": {"status": "Succeeded"}}'),
    ("cloudwatch", "DescribeAlarms", b'{"MetricAlarms": []}'),
    ("ecs", "DescribeServices", b'{"services": []}'),
    ("sts", "GetCallerIdentity", b"<GetCallerIdentityResponse/>"),
])
def test_an_answer_in_the_protocol_the_client_speaks_is_accepted(service, operation,
                                                                   body) -> None:
    _answer(_client(service), operation, body)


@pytest.mark.parametrize(("service", "operation"), [("codedeploy", "GetDeployment"),
                                                    ("ecs", "DescribeServices")])
def test_a_web_page_is_refused(service, operation) -> None:
    with pytest.raises(NotAnAwsAnswer):
        _answer(_client(service), operation, b"<!doctype html><html>portal</html>")


def test_an_answer_botocore_cannot_parse_is_named_as_not_aws() -> None:
    """An empty 404 from a registry or web server at AWS_ENDPOINT_URL breaks botocore's
    parser before any of our checks: it is still one clear line, not an unexpected error."""
    import botocore.parsers

    from shipyard.adapters.aws import translated
    from shipyard.errors import AwsError

    wanted = "sts:GetCallerIdentity: the endpoint answered, but not as AWS does; check"
    with pytest.raises(AwsError, match=wanted), translated("sts:GetCallerIdentity"):
        raise botocore.parsers.ResponseParserError("Unable to parse response (no element)")
