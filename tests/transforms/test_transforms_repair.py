"""The repair path: what the manual's not-quite-JSON examples need, and nothing more."""

from __future__ import annotations

import json

import pytest

from transforms.repair import UnrecoverableFrame, repair_frame, strip_trailing_commas


def test_trailing_comma_before_a_closing_brace_is_dropped() -> None:
    fixed, repairs = repair_frame('{"loc": {"lat": 41.2, "lng": 1.2,\n}, "a": [1, 2, ], }')
    assert json.loads(fixed) == {"loc": {"lat": 41.2, "lng": 1.2}, "a": [1, 2]}
    assert repairs == ["trailing comma removed"]


def test_commas_inside_strings_are_kept() -> None:
    assert strip_trailing_commas('{"t": "a, }", "u": "\\", ]"}') == '{"t": "a, }", "u": "\\", ]"}'


def test_stray_closing_braces_after_the_object_are_dropped() -> None:
    fixed, repairs = repair_frame('{"type": "pnd-api", "query": {"uid": 1}}\n}\n}\n')
    assert json.loads(fixed) == {"type": "pnd-api", "query": {"uid": 1}}
    assert repairs == ["stray closing braces dropped"]


def test_numbers_and_strings_keep_their_original_text() -> None:
    fixed, _ = repair_frame('{"dcl": "0000001993887010", "lat": 41.21659830,}')
    assert '"0000001993887010"' in fixed and "41.21659830" in fixed


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"uid": 1001, "params": {', "not JSON: Expecting property name"),
        ('{"a": 1 "b": 2}', "not JSON: Expecting ',' delimiter"),
        ("{'a': 1}", "not JSON"),
        ('{"a": NaN}', "not JSON: NaN is not a JSON value"),
        ('{"a": 1} {"b": 2}', "unexpected text after the value"),
        ("7 }", "unexpected text after the value"),
        ('{"a": 1}', "rejected by the strict JSON parser"),
    ],
)
def test_what_cannot_be_recovered_says_why(text: str, reason: str) -> None:
    with pytest.raises(UnrecoverableFrame, match=reason):
        repair_frame(text)
