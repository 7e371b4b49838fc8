"""Pure parts: command replies, the HTTP token check, start times, the clock."""

from __future__ import annotations

import itertools

import pytest
from simulator_test_client import START

from protocol.messages import MessageStatus, driver_message_command, getio_command
from simulator.clock import SimClock
from simulator.commands import BadCommand, CommandDesk, auth_accepted, parse_command
from simulator.config import Credentials, ReplyDelays
from simulator.fleet import Fleet
from simulator.http_auth import HttpRequest, auth_response
from simulator.messages import CommandStatus, IoSnapshot, MessageStatusUpdate
from simulator.timefmt import parse_start

CREDENTIALS = Credentials(42, "S" * 26, "token")


def desk(vehicles: int = 3, **delays: object) -> tuple[Fleet, CommandDesk]:
    fleet = Fleet(vehicles, seed=4, start=START)
    stream = fleet.messages()
    for message in stream:  # let the fleet live two simulated hours
        if message.emit > START + 7200:
            break
    return fleet, CommandDesk(fleet, ReplyDelays(**delays), fleet.truth, seed=4)


def test_getio_replies_with_the_inputs_the_ground_truth_says() -> None:
    fleet, commands = desk()
    now = START + 7000
    for vehicle in fleet.vehicles:
        uid = vehicle.profile.uid
        replies = commands.handle(getio_command(uid, "C" * 25), now)
        if not replies[0].ok:  # silent device
            assert len(replies) == 1
            continue
        status, snapshot = replies
        assert isinstance(status, CommandStatus) and isinstance(snapshot, IoSnapshot)
        assert now < status.emit < snapshot.emit
        changes = [c for c in fleet.truth.io_changes if c["uid"] == uid and c["tmx"] <= now]
        for io, level in snapshot.levels.items():
            mine = [c["to_value"] for c in changes if c["io"] == io]
            if mine:
                assert level == mine[-1]


def test_driver_message_statuses_come_in_order_with_one_id_and_scaled_delays() -> None:
    fleet, commands = desk(message_failure_rate=0.0, message_read_rate=1.0, scale=2.0)
    uid = fleet.vehicles[0].profile.uid
    command = driver_message_command(uid, "hello", 42, "Ops", "G" * 25)
    replies = [r for r in commands.handle(command, START + 7000)
               if isinstance(r, MessageStatusUpdate)]
    assert [r.txs for r in replies] == [0, 1, 3, 4, 5]
    assert len({r.message_id for r in replies}) == 1
    assert replies[0].content == {"type": "msg", "content": {
        "txt": "hello", "user_id": 42, "user_name": "Ops", "guid": "G" * 25}}
    assert all(a.emit < b.emit for a, b in itertools.pairwise(replies))
    assert replies[-1].emit - START - 7000 >= 2 * (0.1 + 0.5 + 1.0 + 3.0 + 10.0)


def test_driver_message_failures_end_in_txs_2() -> None:
    fleet, commands = desk(message_failure_rate=1.0)
    uid = fleet.vehicles[0].profile.uid
    replies = commands.handle(driver_message_command(uid, "x", 42, "Ops", "G" * 25), START)
    assert [r.txs for r in replies] == [MessageStatus.NOT_PROCESSED, MessageStatus.BUFFERED,
                                        MessageStatus.ERROR]


def test_commands_are_checked() -> None:
    for bad in (b"not json", b"[]", b'{"type": "nope", "query": {}}', b'{"type": "api"}'):
        with pytest.raises(BadCommand):
            parse_command(bad)
    auth = parse_command(b'{"type": "auth", "query": {"user_id": "42", "SESSID": "' +
                         b"S" * 26 + b'"}}')
    assert auth_accepted(auth, CREDENTIALS)
    assert not auth_accepted(parse_command(b'{"type": "auth", "query": {"user_id": 42}}'),
                             CREDENTIALS)


def request(method: str, path: str, body: bytes, **headers: str) -> HttpRequest:
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(
        f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
    data = head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    assert HttpRequest.needed_bytes(data) == len(data)
    assert HttpRequest.needed_bytes(data[:-1]) in (None, len(data))
    return HttpRequest.parse(data)


def test_http_token_check_takes_json_too_and_answers_404_405() -> None:
    ok = request("POST", "/ws/websocketAuth", b'{"SESSID": "' + b"S" * 26 + b'"}',
                 Authorization="token", Content_Type="application/json")
    assert auth_response(ok, CREDENTIALS, refuse=False).startswith(b"HTTP/1.1 200 OK")
    assert auth_response(ok, CREDENTIALS, refuse=True).startswith(b"HTTP/1.1 401")
    elsewhere = request("POST", "/other", b"", Authorization="token")
    assert auth_response(elsewhere, CREDENTIALS, refuse=False).startswith(b"HTTP/1.1 404")
    get = request("GET", "/ws/websocketAuth", b"")
    assert auth_response(get, CREDENTIALS, refuse=False).startswith(b"HTTP/1.1 405")


def test_start_accepts_iso_times_and_offsets() -> None:
    assert parse_start("2023-11-14T22:13:20Z", 0) == START
    assert parse_start("-6h", START) == START - 6 * 3600
    assert parse_start("-90m", START) == START - 5400
    with pytest.raises(ValueError):
        parse_start("yesterday", START)


def test_clock_pauses_and_jumps_at_infinite_speed() -> None:
    clock = SimClock(START, 60)
    assert clock.now() == START and not clock.running
    fast = SimClock(START, float("inf"))
    fast.resume()
    fast.advance_to(START + 100)
    fast.advance_to(START + 50)
    assert fast.now() == START + 100
    assert fast.wall_seconds_until(START + 1e6) == 0


def test_a_message_to_a_closed_app_waits_until_the_app_is_back() -> None:
    fleet, commands = desk(vehicles=6, message_failure_rate=0.0)
    closed = [(v, off, on) for v in fleet.vehicles for off, on in v.app_offline]
    assert closed
    vehicle, off, on = closed[0]
    command = driver_message_command(vehicle.profile.uid, "x", 42, "Ops", "G" * 25)
    replies = commands.handle(command, off + 1)
    delivered = next(r for r in replies if r.txs == MessageStatus.DELIVERED)
    assert delivered.emit > on
