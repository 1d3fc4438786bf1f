"""The source URL label never carries credentials."""

from __future__ import annotations

import pytest

from shipyard.usecases.source import public_url


@pytest.mark.parametrize(
    ("remote", "url"),
    [
        ("git@github.com:acme/gamepulse.git", "https://github.com/acme/gamepulse"),
        ("https://github.com/acme/gamepulse.git", "https://github.com/acme/gamepulse"),
        # credentials, even with an '@' in the password, are removed
        ("https://user:p@ss@github.com/acme/gp.git", "https://github.com/acme/gp"),
        ("https://x-access-token:ghs_abc@github.com/acme/gp", "https://github.com/acme/gp"),
        # a token in a query or fragment is dropped too
        ("https://github.com/acme/gp.git?token=abc#frag", "https://github.com/acme/gp"),
        ("ssh://git@github.com/acme/gp.git", "https://github.com/acme/gp"),
        ("/srv/git/gp.git", ""),  # a local path is not a public URL
        ("", ""),
    ],
)
def test_public_url(remote: str, url: str) -> None:
    assert public_url(remote) == url
