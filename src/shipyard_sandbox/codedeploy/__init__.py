"""The sandbox's CodeDeploy for ECS blue/green deployments (moto's own stays at `Created`).

- `configs`: the predefined ECS deployment configs and custom ones, as schedules of shifts;
- `engine`: one deployment run as CodeDeploy runs it (lifecycle hooks, the replacement task
  set, test and production traffic, ready and termination waits, stops, alarms, rollback),
  against a `Platform` interface that the sandbox's ECS, load balancer, Lambda and CloudWatch
  implement.

Not yet wired into moto's CodeDeploy API: that is the next step (the API actions moto lacks,
`PutLifecycleEventHookExecutionStatus`, `StopDeployment`, `ContinueDeployment`, deployment
configs and targets, answered from the runs).
"""
