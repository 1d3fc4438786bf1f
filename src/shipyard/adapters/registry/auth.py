"""Registry authentication: Basic and bearer-token challenges, token caching, secret masking.

A registry says how it wants credentials in the `WWW-Authenticate` header of a 401: `Basic`
(ECR, the sandbox) or `Bearer realm=…,service=…,scope=…` (a token service that exchanges
our username and password for a short-lived token per scope). The first request of a scope
goes alone while the scheme is unknown, so parallel requests do not all collect the same 401.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import httpx

from shipyard.adapters.registry.answers import describe
from shipyard.adapters.registry.events import BasicAuth
from shipyard.adapters.registry.names import is_loopback_host
from shipyard.errors import AuthError, RegistryError

_CHALLENGE_PARAM = re.compile(r'([A-Za-z_]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))')

# GET url with params and headers, retried like any request; answers the token service's reply.
TokenGet = Callable[[httpx.URL, Sequence[tuple[str, str]], Mapping[str, str], str],
                    httpx.Response]


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="…",service="…",scope="…"` → ("bearer", {realm, service, scope})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in _CHALLENGE_PARAM.finditer(rest)}
    return scheme.lower(), params


class Authenticator:
    """What one registry host wants as credentials, learned from its challenges; thread-safe."""

    def __init__(self, host: str, credentials: BasicAuth | None, *,
                 basic_first: bool = False, probe_wait: float = 5.0) -> None:
        self.host = host
        self.credentials = credentials
        self.probe_wait = probe_wait
        self._token_lock = threading.Lock()
        self._fetch_lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}  # scope -> (token, monotonic expiry)
        # Set once the registry asked for Basic auth; from the start when the caller knows it
        # will (ECR always does): then no request waits for a first 401.
        self._use_basic = basic_first and credentials is not None
        self._probed: set[str] = set()  # scopes whose first request has been answered

    def headers(self, scope: str) -> dict[str, str]:
        with self._token_lock:
            cached = self._tokens.get(scope)
        if cached and cached[1] > time.monotonic():
            return {"Authorization": f"Bearer {cached[0]}"}
        if self._use_basic and self.credentials is not None:
            return {"Authorization": self.credentials.header()}
        return {}

    @contextmanager
    def first_contact(self, scope: str) -> Iterator[None]:
        """Run the first request of a scope alone while we do not know what the registry wants.

        Parallel first requests would each collect a 401 (and a streamed body would be sent
        for nothing); the others wait for the first answer and then go with credentials. They
        wait `probe_wait` seconds at most: a first request that stalls must not hold up every
        other one until its timeout, and going without the answer costs at most a 401.
        """
        if self._known(scope):
            yield
            return
        if not self._probe_lock.acquire(timeout=self.probe_wait):
            yield
            return
        try:
            if not self._known(scope):
                yield
                self._probed.add(scope)
                return
        finally:
            self._probe_lock.release()
        yield

    def _known(self, scope: str) -> bool:
        return self.credentials is None or self._use_basic or scope in self._probed

    def answer_challenge(self, response: httpx.Response, scope: str, sent: str | None,
                         get: TokenGet) -> bool:
        """Act on a 401's WWW-Authenticate; True when the request should be sent again.

        `sent` is the Authorization header the refused request carried, if any.
        """
        scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if scheme == "basic":
            if self.credentials is None or (sent is not None and self._use_basic):
                return False
            self._use_basic = True
            return True
        if scheme == "bearer" and params.get("realm"):
            # Parallel uploads hit the same challenge at once: the first thread fetches the
            # token, the others find a newer one than they sent and just use it.
            with self._fetch_lock:
                current = self.headers(scope).get("Authorization")
                if current is None or current == sent:
                    self._fetch_token(params, scope, get)
            return True
        return False

    def _fetch_token(self, challenge: Mapping[str, str], scope: str, get: TokenGet) -> None:
        """Get a bearer token from the challenge's realm and cache it under our scope."""
        try:
            url = httpx.URL(challenge["realm"])
        except httpx.InvalidURL as exc:
            raise RegistryError(f"registry {self.host} names an invalid token service URL; "
                                "check the registry's auth configuration") from exc
        realm_host = url.netloc.decode("ascii", "replace")
        what = f"token request to {realm_host}"
        if url.scheme != "https" and not (url.scheme == "http" and is_loopback_host(realm_host)):
            # The realm would get our username and password: never over plain HTTP off-host.
            raise AuthError(f"registry {self.host} sends credentials to a token service over "
                            f"{url.scheme or 'no scheme'} ({realm_host}); use a registry whose "
                            "token realm is https")
        scopes = list(dict.fromkeys([*scope.split(), *challenge.get("scope", "").split()]))
        params: list[tuple[str, str]] = [("scope", s) for s in scopes]
        if challenge.get("service"):
            params.insert(0, ("service", challenge["service"]))
        headers = {"Authorization": self.credentials.header()} if self.credentials else {}
        answer = get(url, params, headers, what)
        if answer.status_code in (401, 403):
            raise AuthError(f"registry {self.host}: the token service {realm_host} refused the "
                            f"credentials ({answer.status_code}); check the username and "
                            "password")
        try:
            data = answer.json()
            token = data.get("token") or data.get("access_token")
            expires_in = float(data.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError) as exc:
            raise RegistryError(f"registry {self.host}: {what} answered "
                                f"{answer.status_code} without a token; check the registry's "
                                "auth configuration") from exc
        if answer.status_code != 200 or not isinstance(token, str) or not token:
            raise RegistryError(f"registry {self.host}: {what} answered {answer.status_code} "
                                "without a token; check the registry's auth configuration")
        # Refresh a little early so a token never expires between our check and its use.
        expiry = time.monotonic() + max(expires_in - 10.0, 1.0)
        with self._token_lock:
            self._tokens[scope] = (token, expiry)

    def refusal(self, response: httpx.Response, what: str, sent: bool) -> AuthError:
        """The AuthError for a 401 we could not answer or a 403."""
        detail = self.mask(describe(response))
        if response.status_code == 403:
            return AuthError(f"registry {self.host} denied {what} ({detail}); give these "
                             "credentials pull and push permission on the repository")
        if not sent and self.credentials is None:
            return AuthError(f"registry {self.host} requires credentials ({what} answered "
                             f"{detail}); log in or pass a username and password")
        return AuthError(f"registry {self.host} refused the credentials ({what} answered "
                         f"{detail}); check the username and password (an ECR token lasts "
                         "12 hours)")

    def mask(self, text: str) -> str:
        """Hide our password and tokens should a registry ever echo them back."""
        with self._token_lock:
            secrets = [token for token, _ in self._tokens.values()]
        if self.credentials is not None:
            secrets.append(self.credentials.password)
        for secret in secrets:
            # A very short password would mask ordinary letters; such a leak cannot happen
            # through a message that only echoes our own request's fragments anyway.
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text
