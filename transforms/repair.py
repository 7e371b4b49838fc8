"""Recover the manual's not-quite-JSON frames, or say exactly why a frame is not JSON.

Only frames that fail DuckDB's ``json_valid`` come here, so this small Python path never
touches the bulk of the data. Two defects of the manual's own examples are recovered,
because their meaning is unambiguous:

* a trailing comma before ``}`` or ``]`` (``"lng": 1.20606, }`` in ``service-generic``);
* unmatched closing braces or brackets after the complete object (the ``pnd-api``
  example ends with ``} } }`` where one ``}`` closes it).

Anything else (truncated text, missing commas, single quotes, NaN, ...) is not guessed at:
the frame is quarantined with the decoder's message.
"""

from __future__ import annotations

import json
import re

_STRAY_CLOSERS = re.compile(r"[\s}\]]*")


def _reject_constant(name: str) -> None:
    raise json.JSONDecodeError(f"{name} is not a JSON value", name, 0)


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


class UnrecoverableFrame(ValueError):
    """A frame that is not JSON and cannot safely be made JSON; the message says why."""


def strip_trailing_commas(text: str) -> str:
    """``text`` without the commas that directly precede ``}`` or ``]`` (outside strings)."""
    out: list[str] = []
    in_string = escaped = False
    pending_comma: list[str] | None = None  # a comma and the whitespace after it
    for ch in text:
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if pending_comma is not None:
            if ch.isspace():
                pending_comma.append(ch)
                continue
            if ch in "}]":
                out.extend(pending_comma[1:])  # drop the comma, keep the layout
            else:
                out.extend(pending_comma)
            pending_comma = None
        if ch == ",":
            pending_comma = [ch]
            continue
        if ch == '"':
            in_string = True
        out.append(ch)
    if pending_comma is not None:
        out.extend(pending_comma)
    return "".join(out)


def _decode_error(exc: json.JSONDecodeError) -> str:
    return f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"


def repair_frame(text: str) -> tuple[str, list[str]]:
    """Return ``text`` made strict JSON, and the list of repairs applied.

    Raises ``UnrecoverableFrame`` when the text cannot be recovered without guessing.
    """
    repairs: list[str] = []
    candidate = strip_trailing_commas(text)
    if candidate != text:
        repairs.append("trailing comma removed")
    candidate = candidate.strip()
    try:
        value, end = _DECODER.raw_decode(candidate)
    except json.JSONDecodeError as exc:
        raise UnrecoverableFrame(_decode_error(exc)) from None
    rest = candidate[end:]
    if rest.strip():
        if _STRAY_CLOSERS.fullmatch(rest) is None or not isinstance(value, dict | list):
            raise UnrecoverableFrame(
                f"not JSON: unexpected text after the value: {rest.strip()[:40]!r}"
            )
        repairs.append("stray closing braces dropped")
    if not repairs:
        # Valid for Python's decoder but not for DuckDB's (e.g. NaN, lone surrogates).
        raise UnrecoverableFrame("not JSON: rejected by the strict JSON parser")
    # The original text minus the removed characters: numbers and strings stay as sent.
    return candidate[:end], repairs
