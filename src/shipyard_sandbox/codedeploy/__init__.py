"""The sandbox's CodeDeploy for ECS blue/green deployments (moto's own stays at `Created`).

- `configs`: the predefined ECS deployment configs and custom ones, as schedules of shifts;
- `engine`: one deployment run as CodeDeploy runs it (lifecycle hooks, the replacement task
  set, test and production traffic, ready and termination waits, stops, alarms, rollback),
  against a `Platform` interface that the sandbox's ECS, load balancer, Lambda and CloudWatch
  implement.

- `api`: moto's CodeDeploy patched to run them: CodeDeploy's deployment ids, deployment
  configs, `PutLifecycleEventHookExecutionStatus`, `StopDeployment`, `ContinueDeployment`,
  deployment targets, and each deployment's status, errorInformation and rollbackInfo.

- `environment`: what a deployment acts on, the sandbox's own ECS task sets, listeners,
  Lambda hooks and alarms, through their APIs.

Not modelled: rollback as a deployment of its own
(`rollbackInfo.rollbackDeploymentId`); deployment groups' triggers; EC2/on-premises and
Lambda compute platforms.
"""
