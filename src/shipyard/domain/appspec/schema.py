"""The ECS AppSpec's fixed vocabulary: the placeholder, the resource type, the hook events, and
the patterns a Lambda target and a task-definition ARN must match."""

from __future__ import annotations

import re

# CodePipeline's ECS blue/green action (CodeDeployToECS) replaces this literal text with the
# ARN of the task definition it registers; aws-actions/amazon-ecs-deploy-task-definition
# overwrites TaskDefinition whatever it holds. A committed AppSpec therefore carries this
# placeholder, and `--task-definition ARN` fills it for a direct `aws deploy create-deployment`.
TASK_DEFINITION_PLACEHOLDER = "<TASK_DEFINITION>"
ECS_SERVICE_TYPE = "AWS::ECS::Service"
FORMATS = ("yaml", "json")

# The only events CodeDeploy lets an ECS deployment hook, in the order they run.
ECS_HOOKS = ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic",
             "AfterAllowTraffic")

# Lambda's FunctionName formats (Lambda API reference): a name of 1-64 letters, digits, '-'
# or '_'; a partial ARN `<account>:function:<name>`; a full ARN. Any of them may end in
# `:<version or alias>`, and CodeDeploy passes the value to Invoke as given.
_QUALIFIER = r"(:(\$LATEST|[A-Za-z0-9_-]{1,128}))?"
_LAMBDA_NAME = r"[A-Za-z0-9_-]{1,64}"
_REGION = r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d"
LAMBDA_TARGET = re.compile(
    rf"^((arn:aws[a-z-]*:lambda:{_REGION}:)?\d{{12}}:function:)?{_LAMBDA_NAME}{_QUALIFIER}$")
# A task-definition family is up to 255 letters, digits, '-' or '_'; revisions start at 1.
TASK_DEFINITION_ARN = re.compile(
    rf"^arn:aws[a-z-]*:ecs:{_REGION}:\d{{12}}:task-definition/[A-Za-z0-9_-]{{1,255}}:[1-9]\d*$")
