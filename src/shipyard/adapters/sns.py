"""SNS: where `deploy` and `rollback` announce that they started, succeeded or failed."""

from __future__ import annotations

from collections.abc import Mapping

from shipyard.adapters.aws import Aws, translated


class Sns:
    """The SNS call Shipyard makes, with errors translated."""

    def __init__(self, aws: Aws) -> None:
        self._aws = aws

    def publish(self, topic_arn: str, message: str, subject: str,
                attributes: Mapping[str, str]) -> str:
        """Publish a text message with String attributes (empty ones are left out: SNS
        refuses an empty attribute value); the message id."""
        with translated("sns:Publish"):
            answer = self._aws.client("sns").publish(
                TopicArn=topic_arn, Message=message, Subject=subject,
                MessageAttributes={name: {"DataType": "String", "StringValue": value}
                                   for name, value in attributes.items() if value})
        return str(answer["MessageId"])
