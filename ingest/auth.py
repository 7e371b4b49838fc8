"""The manual's HTTP token check: ``POST {auth-url}`` with ``Authorization`` and ``SESSID``.

Blocking (stdlib ``urllib``); the service runs it in a worker thread. Errors name the cause
and the URL, never the secrets.
"""

from __future__ import annotations

from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import orjson

from ingest.credentials import Credentials
from ingest.errors import AuthError

MAX_REPLY_BYTES = 64 * 1024


def http_authenticate(auth_url: str, credentials: Credentials, timeout_s: float) -> None:
    """Validate the token; return normally when the server accepts it.

    A 2xx reply is success unless its body is JSON with ``success: false``.

    Raises:
        AuthError: HTTP error status, unreachable server, or a refusal in the body.
    """
    request = Request(
        auth_url,
        data=urlencode({"SESSID": credentials.sessid}).encode(),
        method="POST",
        headers={
            "Authorization": credentials.authorization,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    try:
        with urlopen(request, timeout=timeout_s) as response:
            body = response.read(MAX_REPLY_BYTES)
    except HTTPError as exc:
        raise AuthError(credentials.redact(
            f"token check refused by {auth_url}: HTTP {exc.code} {exc.reason} "
            "— check TRACKIT_SESSID / TRACKIT_AUTHORIZATION"
        )) from None
    except URLError as exc:
        raise AuthError(credentials.redact(
            f"cannot reach the auth URL {auth_url}: {exc.reason}"
        )) from None
    except (TimeoutError, OSError) as exc:
        raise AuthError(credentials.redact(
            f"token check at {auth_url} failed: {type(exc).__name__}: {exc}"
        )) from None
    try:
        reply = orjson.loads(body)
    except orjson.JSONDecodeError:
        return
    if isinstance(reply, dict) and reply.get("success") is False:
        raise AuthError(
            f"token check refused by {auth_url} (success=false) "
            "— check TRACKIT_SESSID / TRACKIT_AUTHORIZATION"
        )
