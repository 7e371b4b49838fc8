"""The server's side of the client commands: parse them, check auth, plan the replies.

Pure: ``CommandDesk.handle`` takes a command and the simulated time it arrived and returns
the reply messages, each stamped with the simulated time it goes out. ``api`` ``getio``
gets a ``cmd-status`` then a ``cmd-parsed`` (or only a failed ``cmd-status`` when the device
is unknown or silent); ``pnd-api`` ``msg`` gets ``msg-sts`` ``txs`` 0 echoing the content
with the server's message id, then 1, 3, 4 and maybe 5, or 2 on a simulated failure; a
message to a driver whose app is disconnected stays pending until the app comes back.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

from protocol.messages import CommandType, MessageStatus
from simulator import catalog
from simulator.config import Credentials, ReplyDelays
from simulator.fleet import Fleet
from simulator.ground_truth import GroundTruth
from simulator.ids import IdMaker
from simulator.messages import CommandStatus, DriverText, IoSnapshot, Message, MessageStatusUpdate


class BadCommand(ValueError):
    """A client frame the server cannot act on (not JSON, unknown type, missing fields)."""


def parse_command(text: str | bytes) -> dict[str, Any]:
    """The command object of a client frame; raises ``BadCommand`` when it isn't one."""
    try:
        command = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadCommand(f"not JSON: {exc}") from None
    if not isinstance(command, dict) or not isinstance(command.get("query"), dict):
        raise BadCommand("a command is an object with 'type' and 'query'")
    if command.get("type") not in {t.value for t in CommandType}:
        raise BadCommand(f"unknown command type {command.get('type')!r}")
    return command


def auth_accepted(command: dict[str, Any], credentials: Credentials) -> bool:
    """True when an ``auth`` command carries the accepted user id and SESSID."""
    query = command["query"]
    user_id = query.get("user_id")
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        return False
    return user_id == credentials.user_id and query.get("SESSID") == credentials.sessid


class CommandDesk:
    """Plans the replies to ``api`` and ``pnd-api`` commands, deterministically from a seed."""

    def __init__(self, fleet: Fleet, delays: ReplyDelays, truth: GroundTruth, seed: int) -> None:
        self.fleet = fleet
        self.delays = delays
        self.truth = truth
        self.rng = random.Random(f"{seed}/commands")
        self.ids = IdMaker(self.rng)

    def _after(self, t: float, window: tuple[float, float]) -> float:
        return t + self.rng.uniform(*window) * self.delays.scale

    def handle(self, command: dict[str, Any], now: float) -> list[Message]:
        """The replies to ``command`` received at simulated time ``now``."""
        kind = command["type"]
        if kind == CommandType.API:
            return self._api(command["query"], now)
        if kind == CommandType.PND_API:
            return self._pnd_api(command["query"], now)
        raise BadCommand(f"{kind!r} is answered by the connection, not the desk")

    def _api(self, query: dict[str, Any], now: float) -> list[Message]:
        command_id = str(query.get("id", ""))
        uid = _int_or_none(query.get("uid"))
        status_at = self._after(now, self.delays.cmd_status)
        if uid is None or query.get("cmd") != "getio":
            return [CommandStatus(status_at, uid or 0, command_id, False)]
        levels = self.fleet.io_levels(uid, now)
        if levels is None:
            return [CommandStatus(status_at, uid, command_id, False)]
        parsed_at = self._after(status_at, self.delays.cmd_parsed)
        return [CommandStatus(status_at, uid, command_id, True),
                IoSnapshot(parsed_at, uid, now, levels)]

    def _pnd_api(self, query: dict[str, Any], now: float) -> list[Message]:
        uid = _int_or_none(query.get("uid"))
        content = query.get("content")
        if uid is None or not isinstance(content, dict) or content.get("type") != "msg":
            raise BadCommand("pnd-api needs a uid and a 'msg' content")
        delays, rng = self.delays, self.rng
        message_id = self.ids.object_id(now)
        echo = {"type": "msg", "content": {k: v for k, v in content.items() if k != "type"}}
        times = {MessageStatus.NOT_PROCESSED: self._after(now, delays.not_processed)}
        times[MessageStatus.BUFFERED] = self._after(times[MessageStatus.NOT_PROCESSED],
                                                    delays.buffered)
        if uid not in self.fleet.by_uid or rng.random() < delays.message_failure_rate:
            times[MessageStatus.ERROR] = self._after(times[MessageStatus.BUFFERED], delays.error)
        else:
            times[MessageStatus.PENDING] = self._after(times[MessageStatus.BUFFERED],
                                                       delays.pending)
            delivered = self._after(times[MessageStatus.PENDING], delays.delivered)
            back = self.fleet.by_uid[uid].app_back_online(delivered)
            if back is not None:  # the app is closed: the message waits on the server
                delivered = self._after(back, delays.delivered)
            times[MessageStatus.DELIVERED] = delivered
            if rng.random() < delays.message_read_rate:
                times[MessageStatus.READ] = self._after(times[MessageStatus.DELIVERED],
                                                        delays.read)
        replies: list[Message] = [
            MessageStatusUpdate(at, uid, message_id, int(txs),
                                echo if txs == MessageStatus.NOT_PROCESSED else None)
            for txs, at in times.items()
        ]
        read_at = times.get(MessageStatus.READ)
        if read_at is not None and rng.random() < delays.driver_reply_rate:
            vehicle = self.fleet.by_uid[uid]
            tmx = float(int(self._after(read_at, delays.driver_reply)))
            pmi, text = catalog.PREDEFINED_OK, dict(catalog.PREDEFINED_TEXTS)[catalog.PREDEFINED_OK]
            replies.append(DriverText(tmx + rng.uniform(0.002, 2.0), uid, tmx, vehicle.lat,
                                      vehicle.lon, catalog.PREDEFINED_TEXT_EID, text, pmi))
            self.truth.driver_texts.append({
                "uid": uid, "tmx": tmx, "emitted": replies[-1].emit,
                "eid": catalog.PREDEFINED_TEXT_EID, "kind": "predefined", "predefined_id": pmi,
                "text": text, "reply_to": message_id,
            })
        self.truth.sent_messages[message_id] = {
            "message_id": message_id, "uid": uid, "guid": content.get("guid"),
            "text": content.get("txt"), "sent_at": now,
            "statuses": {int(txs): at for txs, at in times.items()},
            "statuses_wall": {},
        }
        return replies


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
