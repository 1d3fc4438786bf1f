"""AWS::CodeDeploy::Application and DeploymentGroup, and the CloudWatch alarms that stop a
deployment, through their APIs."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from shipyard_sandbox.provision.aws import Aws, Created, camel, error_code


def application(aws: Aws, token: str, props: dict[str, Any]) -> Created:
    codedeploy, name = aws("codedeploy"), props.get("ApplicationName", token)
    try:
        codedeploy.get_application(applicationName=name)
        return name, "exists", ""
    except ClientError as exc:
        if error_code(exc) != "ApplicationDoesNotExistException":
            raise
    codedeploy.create_application(**camel(props))
    return name, "created", ""


def deployment_group(aws: Aws, token: str, props: dict[str, Any]) -> Created:
    codedeploy, name = aws("codedeploy"), props.get("DeploymentGroupName", token)
    application = props["ApplicationName"]
    try:
        codedeploy.get_deployment_group(applicationName=application, deploymentGroupName=name)
        return name, "exists", ""
    except ClientError as exc:
        if error_code(exc) != "DeploymentGroupDoesNotExistException":
            raise
    params = camel({**props, "DeploymentGroupName": name})
    codedeploy.create_deployment_group(**params)
    return name, "created", ""


def alarm(aws: Aws, token: str, props: dict[str, Any]) -> Created:
    cloudwatch, name = aws("cloudwatch"), props.get("AlarmName", token)
    if cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]:
        return name, "exists", ""
    params = {key: value for key, value in props.items()}  # the API's names are CloudFormation's
    params["AlarmName"] = name
    for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if key in params:
            params[key] = int(params[key])
    if "Threshold" in params:
        params["Threshold"] = float(params["Threshold"])
    cloudwatch.put_metric_alarm(**params)
    return name, "created", ""


