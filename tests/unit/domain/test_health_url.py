"""The health check's URL: filled in from the environment, and judged before it is contacted,
in shipyard.toml when it is loaded and again once its variables are known."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.config import load_config
from shipyard.domain.health_url import address_refusal, expand_url, url_refusal
from shipyard.errors import ConfigError

KEY = "environments.production.health.url"


@pytest.mark.parametrize(("value", "env", "expected"), [
    ("https://gamepulse.example.org", {}, "https://gamepulse.example.org"),
    ("${LB:-http://127.0.0.1:80}", {}, "http://127.0.0.1:80"),
    ("${LB:-http://127.0.0.1:80}", {"LB": "http://127.0.0.1:9"}, "http://127.0.0.1:9"),
    ("${LB:-${ALB_URL:-}}", {"ALB_URL": "https://alb.example.org"}, "https://alb.example.org"),
    ("https://${HOST}/app", {"HOST": "a.example.org"}, "https://a.example.org/app"),
])
def test_expand(value: str, env: dict, expected: str) -> None:
    assert expand_url(KEY, value, env) == expected


@pytest.mark.parametrize(("value", "env", "words"), [
    ("", {}, f"{KEY}: empty"),
    ("${LB", {}, f"{KEY}: '${{LB' is not understood"),
    ("${registry}/x", {}, f"{KEY}: ${{registry}} is not an environment variable"),
    ("${LB}", {}, f"{KEY} uses ${{LB}}, which is not set; export LB"),
    ("${LB:-${ALB_URL:-}}", {}, f"{KEY} = '${{LB:-${{ALB_URL:-}}}}' comes out empty here"),
    ("${LB}", {"LB": " "}, f"{KEY} = '${{LB}}' comes out empty here"),
])
def test_expand_refuses_naming_the_key(value: str, env: dict, words: str) -> None:
    with pytest.raises(ConfigError) as raised:
        expand_url(KEY, value, env)
    assert str(raised.value).startswith(words)


@pytest.mark.parametrize(("url", "why"), [
    ("http://127.0.0.1:8081", None),
    ("http://127.200.0.1", None),
    ("http://localhost:8080/", None),
    ("http://[::1]:80", None),
    ("https://gamepulse.example.org/", None),
    ("http://8.8.8.8", None),
    ("http://10.0.0.1", "10.0.0.1 is a private address (10.0.0.0/8)"),
    ("http://172.16.0.1", "172.16.0.1 is a private address (172.16.0.0/12)"),
    ("http://172.32.0.1", None),  # just past 172.16/12: public
    ("http://192.168.0.1", "192.168.0.1 is a private address (192.168.0.0/16)"),
    ("http://169.254.169.254", "169.254.169.254 is a link-local address (169.254.0.0/16)"),
    ("http://[fd12::1]", "fd12::1 is a private address (fc00::/7)"),
    ("http://0.0.0.0", "0.0.0.0 is not a public address"),
    ("ftp://example.org", "the scheme is ftp, not http or https"),
    ("example.org", "the scheme is missing, not http or https"),
    ("http://", "it names no host"),
    ("http://h:99999", "not a URL (its port is not a number from 0 to 65535)"),
    ("http://user:pw@example.org", "the URL carries credentials"),
    ("http://example.org/?token=x", "the URL has a query or fragment"),
])
def test_url_refusal(url: str, why: str | None) -> None:
    found = url_refusal(url)
    if why is None:
        assert found is None
    else:
        assert found is not None and found.startswith(why)


def test_an_ipv6_zone_is_no_part_of_the_address() -> None:
    assert address_refusal("fe80::1%eth0") == "fe80::1%eth0 is a link-local address (fe80::/10)"


def _config(tmp_path: Path, health: str) -> Path:
    (tmp_path / "shipyard.toml").write_text(
        '[environments.prod]\ncluster = "c"\nservice = "s"\ntask_definition = "td.json"\n'
        f"[environments.prod.health]\n{health}\n")
    return tmp_path


@pytest.mark.parametrize(("health", "words"), [
    ("", "environments.prod.health.url: Value error, empty"),
    ('url = "http://10.1.1.1/"', "environments.prod.health.url: Value error, 10.1.1.1 is a "
                                 "private address"),
    ('url = "ftp://example.org"', "environments.prod.health.url: Value error, the scheme is ftp"),
    ('url = "${LB:-http://x"', "environments.prod.health.url: Value error, '${LB:-http://x' is "
                               "not understood"),
    ('url = "${region}"', "environments.prod.health.url: Value error, ${region} is not an "
                          "environment variable"),
    ('url = "https://a.example.org"\npaths = ["health"]',
     "environments.prod.health.paths: Value error, 'health' is not a path"),
    ('url = "https://a.example.org"\npaths = [""]',
     "environments.prod.health.paths: Value error, '' is not a path"),
    ('url = "https://a.example.org"\nversion_path = "version"',
     "environments.prod.health.version_path: Value error, 'version' is not a path"),
    ('url = "https://a.example.org"\ntimeout = "60"',
     "environments.prod.health.timeout: Input should be a valid number"),
    ('url = "https://a.example.org"\nrollback = "yes"',
     "environments.prod.health.rollback: Input should be a valid boolean"),
])
def test_the_config_refuses_at_load(tmp_path: Path, health: str, words: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(_config(tmp_path, health))
    assert words in str(raised.value)


def test_the_config_keeps_references_for_later(tmp_path: Path) -> None:
    # A default that is refused once filled in is judged then: CI may set the variable.
    config = load_config(_config(tmp_path, 'url = "${LB:-http://10.0.0.1}"\n'
                                           'paths = ["/health", "/ready?deep=1"]'))
    health = config.environment("prod").health
    assert health is not None and health.url == "${LB:-http://10.0.0.1}"
    assert health.paths == ("/health", "/ready?deep=1")
