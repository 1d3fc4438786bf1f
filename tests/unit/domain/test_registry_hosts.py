"""Registry hosts: one syntax check for every place a host is read (SHIPYARD_REGISTRY, an
image reference's host, the registry client), so a bad port is never a crash or a strange URL.
"""

from __future__ import annotations

import pytest

from shipyard.domain.names import parse_image_reference, registry_host_problem
from shipyard.errors import UsageError


@pytest.mark.parametrize("host", [
    "127.0.0.1:5000", "localhost", "localhost:1", "registry.example.com",
    "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com", "[::1]", "[::1]:65535",
    "http://127.0.0.1:5000/", "https://r.example.com", "a-b.c",
])
def test_hosts_that_are_hosts(host: str) -> None:
    assert registry_host_problem(host) is None


@pytest.mark.parametrize(("host", "problem"), [
    ("127.0.0.1:abc", "port 'abc' is not a number from 1 to 65535"),
    ("127.0.0.1:0", "port '0'"),
    ("127.0.0.1:65536", "port '65536'"),
    ("127.0.0.1:", "port ''"),
    ("127.0.0.1:٣", "port '٣'"),  # a digit, but not an ASCII one
    ("[::1]:x", "port 'x'"),
    ("r:1:2", "'r:1:2' is not HOST or HOST:PORT"),
    ("exa_mple.com", "is not HOST or HOST:PORT"),
    ("-r.com", "is not HOST or HOST:PORT"),
    ("r.com/path", "is not HOST or HOST:PORT"),
    ("r.com?x=1", "is not HOST or HOST:PORT"),
    ("r .com", "is not HOST or HOST:PORT"),
    ("r.com\n", None),  # surrounding space is stripped, as from a pasted value
    ("", "'' is not HOST or HOST:PORT"),
    ("[::1", "is not HOST or HOST:PORT"),
])
def test_hosts_that_are_not(host: str, problem: str | None) -> None:
    found = registry_host_problem(host)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_credentials_in_a_host_are_refused_without_being_echoed() -> None:
    problem = registry_host_problem("https://user:s3cr3t@r.example.com")
    assert problem is not None and "credentials" in problem and "s3cr3t" not in problem


@pytest.mark.parametrize("image", ["127.0.0.1:abc/x:1", "r.com:0/x:1", "r_1.com/x:1"])
def test_an_image_reference_with_a_bad_host_is_a_usage_error(image: str) -> None:
    with pytest.raises(UsageError, match="registry host"):
        parse_image_reference(image, registry="r", repository="x")
