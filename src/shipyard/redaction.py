"""Masking secrets in what Shipyard logs: the secrets it holds, and the shapes of others.

Two layers, because neither is enough alone:

- **Registered secrets** (`register_secret`: the ECR password, the AWS secret key and session
  token) are masked in every form the process could print them in: raw, URL-encoded,
  JSON-escaped, as a bytes repr, and inside base64 at any of the three alignments, so
  `base64(user:password)` (a docker `auth`, the `Authorization: Basic` value, ECR's token)
  is masked without knowing the user, and the whole base64 word around it goes.
- **Shapes** of secrets never registered: Authorization headers, AWS session tokens,
  credentials and signatures in headers, query strings, JSON and XML fields,
  `password=`/`token=` pairs, URL user-info, decrypted SSM SecureString values. botocore
  logs ECR's token in the response body before Shipyard has decoded it; this layer catches
  that.

`RedactingFilter` applies both to every record a handler emits: the message with its
arguments, the traceback and the stack. Importing this module is cheap (stdlib only).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

MASK = "***"
# A shorter secret would mask ordinary words (the sandbox's dummy AWS key is "sandbox", and
# errors go through the mask too); real tokens and keys are far longer.
MIN_SECRET_LENGTH = 8
# Characters of a base64 word: standard or URL-safe, maybe URL-encoded or with JSON's `\/`;
# '=' only ends one.
_BASE64_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-%\\")
_URLSAFE = str.maketrans("+/", "-_")

# Query parameters a registry URL may carry that say what, not who: shown as they are.
_PLAIN_QUERY_KEYS = frozenset({"digest", "mount", "from", "n", "last", "scope", "service"})


class SecretRegistry:
    """The secrets this process holds; thread-safe. `redact` masks each in all its forms.

    >>> secrets = SecretRegistry()
    >>> secrets.register("s3cr3t-value")
    >>> secrets.redact("password s3cr3t-value, basic QVdTOnMzY3IzdC12YWx1ZQ==")
    'password ***, basic ***'
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._literal: re.Pattern[str] | None = None
        self._base64: re.Pattern[str] | None = None

    def register(self, value: str | bytes | None) -> None:
        """Remember a secret; values shorter than MIN_SECRET_LENGTH are ignored."""
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not value or len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value in self._secrets:
                return
            self._secrets.add(value)
            literal = {form for secret in self._secrets for form in _literal_forms(secret)}
            encoded = {form for secret in self._secrets for form in _base64_fragments(secret)}
            self._literal = _alternation(literal)
            self._base64 = _alternation(encoded)

    def redact(self, text: str) -> str:
        literal, encoded = self._literal, self._base64
        if literal is None or encoded is None or not text:
            return text
        return _mask_words(literal.sub(MASK, text), encoded)


def _alternation(forms: set[str]) -> re.Pattern[str]:
    # Longest first, so a form that contains another is masked whole.
    return re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))


def _literal_forms(secret: str) -> set[str]:
    """The secret as text: raw, URL-encoded (either hex case), JSON-escaped (`/` too, as some
    encoders do), in a repr."""
    quoted = {quote(secret, safe=""), quote_plus(secret, safe="")}
    quoted |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), q) for q in quoted}
    escaped = {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
               repr(secret)[1:-1], repr(secret.encode())[2:-1]}
    escaped |= {form.replace("/", "\\/") for form in escaped}
    return {secret, *quoted, *escaped}


def _base64_fragments(secret: str) -> set[str]:
    """What base64 of any text holding the secret must contain, at each of 3 alignments.

    Bytes go 3 to 4 characters, so a character at either edge also carries bits of the
    neighbouring text: keep only the characters made of the secret's bits alone.
    """
    raw = secret.encode()
    fragments = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode("ascii")
        groups, rest = divmod(shift + len(raw), 3)
        fragment = encoded[(0, 2, 3)[shift]:groups * 4 + (0, 1, 2)[rest]]
        if len(fragment) >= MIN_SECRET_LENGTH:
            fragments |= {fragment, fragment.translate(_URLSAFE), quote(fragment, safe=""),
                          fragment.replace("/", "\\/")}
    return fragments


def _mask_words(text: str, fragments: re.Pattern[str]) -> str:
    """Replace each base64 word (URL-encoded or URL-safe, too) that holds a fragment."""
    spans: list[tuple[int, int]] = []
    for match in fragments.finditer(text):
        start, end = match.span()
        if spans and start < spans[-1][1]:
            continue
        while start > 0 and text[start - 1] in _BASE64_WORD:
            start -= 1
        while end < len(text) and text[end] in _BASE64_WORD:
            end += 1
        while end < len(text) and text[end] == "=":
            end += 1
        spans.append((start, end))
    for start, end in reversed(spans):
        text = text[:start] + MASK + text[end:]
    return text


# --- shapes of secrets nobody registered ---------------------------------------------------

# A quoted value; in a bytes repr of JSON (botocore's "Response body"), JSON's `\"` shows as
# `\\"`, which must not end the value: a JSON SecretString would be masked only to its first key.
_QUOTED = r"""b?"(?:[^"\\\n]|\\\\"|\\.)*"|b?'(?:[^'\\\n]|\\.)*'"""
# `Authorization: AWS4-HMAC-SHA256 Credential=…, Signature=…` (a header line, a dict repr
# with bytes values, JSON): keep the scheme, mask the rest of the value.
_AUTHORIZATION = re.compile(
    r"""(?P<key>\b(?:proxy-)?authorization["']?\s*[:=]\s*)(?P<open>b?["'])?"""
    r"""(?P<scheme>(?:basic|bearer|digest|token|aws4-hmac-sha256)\s+)?"""
    r"""(?P<value>(?(open)[^"'\r\n]*|[^\r\n]*))""", re.IGNORECASE)
_SCHEME_VALUE = re.compile(r"\b(Basic|Bearer) [A-Za-z0-9+/=._~-]{16,}")
# key: value, key=value, "key": "value", <Key>value</Key>, where the key names a secret.
_SECRET_KEY = (r"[\w-]*?(?:password|passwd|passphrase|secret|token|signature|credentials?"
               r"|api[_-]?key|access[_-]?key|secret[_-]?string|secret[_-]?binary|auth)")
_KEY_VALUE = re.compile(
    rf"""(?P<key>(?<![\w-]){_SECRET_KEY}(?![\w-])["']?\s*(?:[:=]|=>)\s*)"""
    rf"""(?P<value>{_QUOTED}|[^\s"'&,;(){{}}\[\]<>]+)""", re.IGNORECASE)
_XML_ELEMENT = re.compile(rf"(?P<open><(?P<tag>{_SECRET_KEY})>)[^<]*(?=</(?P=tag)>)",
                          re.IGNORECASE)
_URL_USERINFO = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)
# A decrypted SecureString parameter is a plain `"Value"` field; mask them all then.
_PARAMETER_VALUE = re.compile(rf"""(?P<key>["']Value["']\s*:\s*)(?P<value>{_QUOTED})""")


def _keep_quotes(value: str) -> str:
    prefix = "b" if value[:1] == "b" and value[1:2] in "\"'" else ""
    quote_char = value[len(prefix):len(prefix) + 1]
    if quote_char in ("'", '"'):
        return f"{prefix}{quote_char}{MASK}{quote_char}"
    return MASK


_TOKEN68 = re.compile(r"[A-Za-z0-9._~+/-]+=*")


def _mask_authorization(match: re.Match[str]) -> str:
    """The header's key and scheme kept, its value masked. An unquoted value runs to the end
    of the line, as a header does; but a Basic or Bearer value is one token68 word, so what
    follows it on the line (a retry note, say) is kept."""
    scheme, value = match["scheme"] or "", match["value"]
    rest = ""
    if not match["open"] and scheme.strip().lower() in ("basic", "bearer", "token"):
        token = _TOKEN68.match(value)
        rest = value[token.end():] if token else value
    return match["key"] + (match["open"] or "") + scheme + MASK + rest


def redact_shapes(text: str) -> str:
    """Mask what looks like a credential wherever it appears, registered or not."""
    text = _AUTHORIZATION.sub(_mask_authorization, text)
    text = _SCHEME_VALUE.sub(lambda m: f"{m[1]} {MASK}", text)
    text = _KEY_VALUE.sub(lambda m: m["key"] + _keep_quotes(m["value"]), text)
    text = _XML_ELEMENT.sub(lambda m: m["open"] + MASK, text)
    text = _URL_USERINFO.sub(lambda m: f"{m[1]}{MASK}@", text)
    if "SecureString" in text:
        text = _PARAMETER_VALUE.sub(lambda m: m["key"] + _keep_quotes(m["value"]), text)
    return text


# --- the process-wide registry, the filter, safe URLs ----------------------------------------

SECRETS = SecretRegistry()


def register_secret(value: str | bytes | None) -> None:
    """Mask `value` (in every encoding) in everything Shipyard logs from now on."""
    SECRETS.register(value)


def redact(text: str, secrets: SecretRegistry = SECRETS) -> str:
    """`text` with registered secrets and secret-shaped values replaced by `***`."""
    return redact_shapes(secrets.redact(text))


def redact_output(text: str, secrets: SecretRegistry = SECRETS) -> str:
    """`text` for a person to read: registered secrets in every encoding, credentials in an
    Authorization value, a `Basic`/`Bearer` token or URL user-info masked.

    Lighter than `redact`: `key: value` shapes would mangle ordinary messages
    (`ecr:GetAuthorizationToken: cannot reach ...`) and results (a secret's ARN).
    """
    text = secrets.redact(text)
    text = _AUTHORIZATION.sub(_mask_authorization, text)
    text = _SCHEME_VALUE.sub(lambda m: f"{m[1]} {MASK}", text)
    return _URL_USERINFO.sub(lambda m: f"{m[1]}{MASK}@", text)


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message, arguments, traceback and stack; drops nothing.

    Put it on handlers, not loggers: a logger's filters do not see records that propagate
    from its children (botocore.endpoint, httpx), a handler's see every record it writes.
    """

    def __init__(self, secrets: SecretRegistry = SECRETS) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: show the format alone
            message = str(record.msg)
        record.msg, record.args = redact(message, self._secrets), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self._secrets)
        return True


def safe_url(url: str, params: object = None) -> str:
    """A URL fit for a log: no user-info, and query values masked unless they name a digest,
    a repository or a page (upload state and presigned S3 parameters are masked).

    >>> safe_url("https://u:p@r.example/v2/x/blobs/uploads/1?_state=abc&digest=sha256:1")
    'https://r.example/v2/x/blobs/uploads/1?_state=***&digest=sha256:1'
    """
    parts = urlsplit(str(url))
    query = parse_qsl(parts.query, keep_blank_values=True)
    # `params` as httpx takes them: a mapping, or a sequence of (name, value) pairs.
    pairs = list(params.items()) if isinstance(params, Mapping) else (
        list(params) if isinstance(params, list | tuple) else [])
    query += [(str(k), str(v)) for k, v in pairs]
    shown = [(k, v if k in _PLAIN_QUERY_KEYS else MASK) for k, v in query]
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(shown, safe=":/*,"), ""))
