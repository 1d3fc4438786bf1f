"""The health check's URL: filled in from the environment, and where Shipyard may send it.

`expand_url` fills `${VAR:-default}` references (the grammar of `shipyard.domain.references`)
from the environment; an unset reference without a default, or a URL that comes out empty,
is a configuration error naming the key. `url_refusal` and `address_refusal` say why a URL or
an address is not one to contact: only http and https, and only loopback (127.0.0.0/8, ::1)
or public addresses. A check that followed a URL to 10/8, 172.16/12, 192.168/16, link-local
(169.254/16, where cloud metadata answers) or another private range could be pointed by a
shipyard.toml at a machine inside the network the deploy runs in; a public URL is the one
users reach anyway, and loopback is the sandbox's.

>>> expand_url("health.url", "${LB:-http://127.0.0.1:8081}", {})
'http://127.0.0.1:8081'
>>> address_refusal("10.0.3.7")
'10.0.3.7 is a private address (10.0.0.0/8)'
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

from shipyard.domain.references import FORMS, names, substitute, well_formed
from shipyard.errors import ConfigError

_PRIVATE = tuple((ipaddress.ip_network(net), kind) for net, kind in
                 (("10.0.0.0/8", "private"), ("172.16.0.0/12", "private"),
                  ("192.168.0.0/16", "private"), ("169.254.0.0/16", "link-local"),
                  ("100.64.0.0/10", "shared (carrier-grade NAT)"), ("fc00::/7", "private"),
                  ("fe80::/10", "link-local")))
_ALLOWED = ("the health check contacts only http(s) URLs on loopback (127.0.0.0/8) or "
            "public addresses")


def template_problem(value: str) -> str | None:
    """What is wrong with a configured URL before any variable is known (None: nothing).
    A URL without references is checked whole; one with references once filled in."""
    return _form_problem(value) or (None if names(value) else url_refusal(value))


def _form_problem(value: str) -> str | None:
    if not value:
        return "empty; set the service's URL (http:// or https://, or ${VAR:-default})"
    if not well_formed(value):
        return f"{value!r} is not understood; write {FORMS}"
    lower = [name for name in names(value) if name.islower()]
    if lower:
        return (f"${{{lower[0]}}} is not an environment variable (those are upper case); "
                "write ${VAR} or ${VAR:-default}")
    return None


def expand_url(key: str, value: str, env: Mapping[str, str]) -> str:
    """The URL `value` of setting `key` with its references filled from `env`. Raises
    ConfigError naming `key` when it is malformed, needs an unset variable or comes out
    empty. Where the URL leads is `url_refusal`'s to judge."""
    problem = _form_problem(value)
    if problem:
        raise ConfigError(f"{key}: {problem}")

    def missing(name: str) -> str:
        raise ConfigError(f"{key} uses ${{{name}}}, which is not set; export {name} (the "
                          "service's URL: its load balancer or domain) or give a default, "
                          f"${{{name}:-https://...}}")

    url = substitute(value, env.get, missing).strip()
    if not url:
        raise ConfigError(f"{key} = {value!r} comes out empty here; set the variables it "
                          "names to the service's URL (its load balancer or domain)")
    return url


def url_refusal(url: str) -> str | None:
    """Why `url` is not one to check (None: it may be): its scheme, credentials, or host."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return "not a URL (its port is not a number from 0 to 65535)"
    if parts.scheme not in ("http", "https"):
        return f"the scheme is {parts.scheme or 'missing'}, not http or https"
    if not parts.hostname:
        return "it names no host"
    if "@" in parts.netloc:
        return "the URL carries credentials; a health endpoint must answer without them"
    if parts.query or parts.fragment:
        return "the URL has a query or fragment; give the base URL, the paths come from paths"
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        return None  # a name: its addresses are checked when it is resolved
    return address_refusal(parts.hostname)


def address_refusal(address: str) -> str | None:
    """Why the IP `address` is not one to contact (None: loopback or public)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone is no part of it
    if ip.is_loopback:
        return None
    for network, kind in _PRIVATE:
        if ip.version == network.version and ip in network:
            return f"{address} is a {kind} address ({network})"
    if not ip.is_global:
        return f"{address} is not a public address"
    return None


def refusal_line(url: str, why: str) -> str:
    """The one line that says a URL was refused, and what to do."""
    return (f"refused {url}: {why}; {_ALLOWED}: point it at the service's public load "
            "balancer or domain")
