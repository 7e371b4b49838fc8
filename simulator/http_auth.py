"""The HTTP side of the simulator: ``POST /ws/websocketAuth`` (I/O-free).

``HttpRequest.parse`` reads a complete request from bytes (``needed_bytes`` says when one is
complete); ``auth_response`` checks the form field ``SESSID`` and the ``Authorization``
header and returns the raw response: 200 with ``{"success": true}`` or 401.
The form may be ``multipart/form-data`` (what the manual's example sends),
``application/x-www-form-urlencoded`` or a JSON object.
"""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qs

import orjson

from protocol.messages import AUTH_PATH
from simulator.config import Credentials

MAX_REQUEST_BYTES = 64 * 1024


class BadRequest(ValueError):
    """The bytes are not an HTTP request this server understands."""


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A parsed HTTP/1.1 request."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @staticmethod
    def needed_bytes(data: bytes) -> int | None:
        """Total size of the request at the start of ``data``, None until the headers are in."""
        end = data.find(b"\r\n\r\n")
        if end < 0:
            if len(data) > MAX_REQUEST_BYTES:
                raise BadRequest("request headers too large")
            return None
        length = 0
        for line in data[:end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise BadRequest("bad Content-Length") from None
        if length > MAX_REQUEST_BYTES:
            raise BadRequest("request body too large")
        return end + 4 + length

    @classmethod
    def parse(cls, data: bytes) -> HttpRequest:
        """Parse one complete request."""
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise BadRequest("bad request line")
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise BadRequest("bad header line")
            headers[name.strip().lower()] = value.strip()
        return cls(parts[0], parts[1].split("?", 1)[0], headers, body)

    def form(self) -> dict[str, str]:
        """The submitted fields, whatever the encoding."""
        ctype = self.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + self.body)
            fields = {}
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name:
                    fields[str(name)] = part.get_content().strip() if part.get_content_maintype(
                    ) == "text" else part.get_payload(decode=True).decode()
            return fields
        if ctype.startswith("application/json"):
            try:
                value = orjson.loads(self.body)
            except orjson.JSONDecodeError:
                raise BadRequest("body is not JSON") from None
            return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
        parsed = parse_qs(self.body.decode("utf-8", "replace"))
        return {name: values[0] for name, values in parsed.items()}


def response(status: HTTPStatus, payload: dict[str, object]) -> bytes:
    """A complete HTTP/1.1 response with a JSON body; the connection closes after it."""
    body = orjson.dumps(payload)
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


def auth_response(request: HttpRequest, credentials: Credentials, refuse: bool) -> bytes:
    """The answer to a request on the HTTP side of the simulator."""
    if request.path != AUTH_PATH:
        return response(HTTPStatus.NOT_FOUND, {"success": False, "error": "not found"})
    if request.method != "POST":
        return response(HTTPStatus.METHOD_NOT_ALLOWED, {"success": False, "error": "use POST"})
    try:
        sessid = request.form().get("SESSID")
    except (BadRequest, ValueError, UnicodeDecodeError):
        return response(HTTPStatus.BAD_REQUEST, {"success": False, "error": "bad form"})
    accepted = (not refuse and sessid == credentials.sessid
                and request.headers.get("authorization") == credentials.authorization)
    if not accepted:
        return response(HTTPStatus.UNAUTHORIZED, {"success": False, "error": "invalid token"})
    return response(HTTPStatus.OK, {"success": True})
