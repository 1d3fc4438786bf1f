"""Names a handler is given that resolve only on AWS, pointed at where the sandbox serves them.

On AWS a hook reaches GamePulse through the load balancer's DNS name and a listener port
(`http://gamepulse-1.ap-northeast-2.elb.amazonaws.com:8080`, from the template's `!Sub`), and
names images by the account's ECR host. In the sandbox those names resolve nowhere: each
listener is a proxy on a free 127.0.0.1 port and the registry listens on its own. So before a
handler starts, its environment variables are rewritten (a sandbox model note, see the
README):
- a URL whose host is a load balancer's DNS name, on a port one of its listeners serves
  (80/443 when the URL names none), becomes that listener's local URL (plain HTTP, as the
  sandbox serves HTTPS listeners); a port no listener serves is left alone, and fails there;
- the account's ECR host (ACCOUNT.dkr.ecr.REGION.amazonaws.com), as a whole name, becomes the
  sandbox registry's address.
Only the environment is rewritten: a URL the handler reads elsewhere (SSM, its event) or
builds itself is not, and GetFunctionConfiguration still answers the template's values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_URL = re.compile(r"(https?)://([A-Za-z0-9.-]+)(?::(\d{1,5}))?")


@dataclass(frozen=True)
class LocalAddresses:
    """(load balancer DNS name, listener port) -> local URL; host -> local host:port."""

    listeners: Mapping[tuple[str, int], str] = field(default_factory=dict)
    hosts: Mapping[str, str] = field(default_factory=dict)


def rewrite(value: str, local: LocalAddresses) -> str:
    def url(match: re.Match[str]) -> str:
        scheme, host, port = match.group(1), match.group(2).lower(), match.group(3)
        number = int(port) if port else (443 if scheme == "https" else 80)
        return local.listeners.get((host, number), match.group(0))

    value = _URL.sub(url, value)
    for host, address in local.hosts.items():
        value = re.sub(rf"(?<![A-Za-z0-9.-]){re.escape(host)}(?![A-Za-z0-9.-])", address,
                       value, flags=re.IGNORECASE)
    return value


def rewrite_environment(environment: Mapping[str, str],
                        local: LocalAddresses) -> dict[str, str]:
    return {key: rewrite(str(value), local) for key, value in environment.items()}
