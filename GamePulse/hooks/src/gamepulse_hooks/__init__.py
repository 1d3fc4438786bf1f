"""GamePulse's CodeDeploy lifecycle hooks: Lambda functions run during a blue/green deployment.

Each handler (`handlers`) reads what the deployment deploys (`deployment`: the AppSpec through
CodeDeploy, then the task definition through ECS), runs its checks, prints one line per check
(to the function's CloudWatch log), reports Succeeded or Failed to CodeDeploy with
PutLifecycleEventHookExecutionStatus, and returns the same verdict with its lines.

- `handlers.before_install` (BeforeInstall): pre-flight (`preflight`): the task definition is
  active, names the AppSpec's container and port, its images are in ECR (for the task's CPU
  architecture when the image is an index) and its secrets exist.
- `handlers.after_allow_test_traffic` (AfterAllowTestTraffic): smoke (`smoke`) through the test
  listener (TEST_URL): /health, /version equal to the version being deployed, an event
  posted to and read back from /v1/matches/{id}/events.
- `handlers.after_allow_traffic` (AfterAllowTraffic): the same end to end through the
  production listener (PRODUCTION_URL), every answer from the new version, and the match
  summary counting the event.

Standard library and boto3 only (what Lambda's Python runtime has). Nothing waits without a
bound: every HTTP request and AWS call has a timeout, retries are counted, and the checks stop
while the function still has time to report.
"""
