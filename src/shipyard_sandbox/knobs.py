"""Fault knobs, read: SSM parameters under a prefix whose values are JSON objects.

Every part of the sandbox that has knobs (ECS, the load balancer) reads them here, from moto's
SSM backend in the sandbox process; users set them through the sandbox's own API
(`PutParameter`) and remove them with `DeleteParameter`. CodeDeploy's are read through the
API itself (`shipyard_sandbox.codedeploy.environment`), as it reads every other service.
"""

from __future__ import annotations

import json
from typing import Any

from moto.ssm.models import ssm_backends


def knobs(prefix: str, account_id: str, region: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, value) of every knob under `prefix` that holds a JSON object, by name."""
    backend = ssm_backends[account_id][region]
    found = []
    for name in sorted(backend._parameters):  # moto keeps no public listing by path
        if not name.startswith(prefix) or not backend._parameters[name]:
            continue
        try:
            value = json.loads(backend._parameters[name][-1].value)
        except (ValueError, TypeError):
            continue  # not a knob: ignored, as the documented shape is the only one
        if isinstance(value, dict):
            found.append((name, value))
    return found
