"""One simulated vehicle: its tracking device and its driver's app, as a stream of messages.

A vehicle alternates trips and parks. A trip is ignition on, a warm-up idle, a route over
the street grid at street speeds with red-light stops, arrival, an idle (sometimes minutes
long, waiting at the customer with the engine running) and ignition off. A park is a
service stop at a named customer (door opened, service delivered or failed, maybe a form
or a text) or a break at a depot. Every fifth vehicle speeds on the expressways. The
driver on duty follows a shift roster (``drivers``). The device logs a record every 10 s
while the ignition is on (every 15 min when parked) and uploads a batch every 30 s; the
socket shows only the batch's last record with its ``total``, so only that record is
built. Sometimes the device goes silent (no coverage) and, when it comes back, uploads
everything at once: one batch and the late events; one vehicle of each fleet goes silent
in the middle of a trip for more than an hour.

Positions come from straight legs between intersections driven at constant speed, so speed,
heading and odometer (metres) agree exactly with the positions.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from simulator import catalog, drivers
from simulator.catalog import DeviceEventKind
from simulator.ground_truth import OVERSPEED_KMH, GroundTruth
from simulator.ids import IdMaker, vehicle_uid, vehicle_vid
from simulator.messages import (
    ConnectionChange,
    DeviceEvent,
    DriverText,
    Eco,
    FormSubmission,
    IoEvent,
    Message,
    Record,
    RecordsBatch,
    ServiceVisit,
)
from simulator.places import Place
from simulator.roads import EXPRESSWAY_KMH, RoadNetwork

MOVING_LOG_S = 10.0
PARKED_LOG_S = 900.0
RECORDS_PER_UPLOAD = 3
SPEEDER_FACTOR = (1.08, 1.38)
"""A speeder drives the expressways at this share of their limit (above 120 km/h at times)."""
CUSTOMER_IDLE_SHARE = 0.25
"""Share of customer arrivals where the driver waits minutes with the engine running."""
LONG_SILENCE_VEHICLE = 1
"""The vehicle (index) whose device goes silent mid-trip for more than an hour."""
LONG_SILENCE_AFTER_S = 1800.0
"""It goes silent on its first trip starting this long after the fleet's start."""
LONG_SILENCE_S = (4500.0, 6600.0)


def _io_snapshot(levels: dict[int, int]) -> dict[str, int]:
    """Input levels keyed as the frames spell them; shared by records until a level changes."""
    return {str(io): level for io, level in levels.items()}


@dataclass(frozen=True, slots=True)
class VehicleProfile:
    """The fixed traits of one vehicle and its device."""

    seed: int
    index: int
    uid: int
    vid: int
    has_ignition: bool
    has_can: bool
    has_door: bool
    depot: int
    speed_factor: float
    silence_rate: float
    speeder: bool

    @classmethod
    def make(cls, seed: int, index: int, rng: random.Random,
             roads: RoadNetwork) -> VehicleProfile:
        """Profile ``index`` of the fleet of ``seed``; every fifth vehicle has no ignition
        input wired, another fifth speeds on expressways."""
        return cls(
            seed=seed,
            index=index,
            uid=vehicle_uid(seed, index),
            vid=vehicle_vid(seed, index),
            has_ignition=index % 5 != 2,
            has_can=index % 3 != 1,
            has_door=index % 2 == 0,
            depot=roads.depots[index % len(roads.depots)],
            speed_factor=rng.uniform(0.8, 1.0),
            silence_rate=0.3 if index % 6 == 4 else 0.05,
            speeder=index % 5 == 3,
        )


@dataclass(slots=True)
class _Leg:
    """A stretch of constant-speed motion (speed 0: standing)."""

    t0: float
    t1: float
    lat0: float
    lon0: float
    lat1: float
    lon1: float
    speed_kmh: float
    heading: float
    odo0: float
    length_m: float


@dataclass(slots=True)
class _Silence:
    """A period when the device has no coverage."""

    start: float
    end: float
    backlog: int = 0
    over: bool = False


class Vehicle:
    """The message stream of one vehicle, planned activity by activity from its own seed."""

    def __init__(self, profile: VehicleProfile, roads: RoadNetwork, rng: random.Random,
                 start: float, truth: GroundTruth, places: dict[int, Place]) -> None:
        self.profile = profile
        self.roads = roads
        self.places = places
        self.rng = rng
        self.truth = truth
        self.ids = IdMaker(rng)
        self.start = start
        self.t = start + rng.uniform(0, 180)
        self.node = profile.depot
        self.lat, self.lon = roads.lats[self.node], roads.lons[self.node]
        self.heading = 0.0
        self.odo = rng.uniform(20_000_000, 400_000_000) if rng.random() < 0.9 else 0.0
        self.odo = float(int(self.odo))
        self.fuel = rng.uniform(40, 100)
        self.engine_s = rng.uniform(1_000, 20_000) * 3600
        self.ignition_since: float | None = None
        self.levels: dict[int, int] = {}
        if profile.has_ignition:
            self.levels[catalog.IO_IGNITION] = 0
        if profile.has_door:
            self.levels[catalog.IO_DOOR] = 0
        if profile.has_can:
            self.levels[catalog.IO_PRIVATE] = 1
        self.io_snapshot = _io_snapshot(self.levels)
        self.io_history: dict[int, tuple[list[float], list[int]]] = {
            io: ([start], [level]) for io, level in self.levels.items()
        }
        self.card_in = True
        self.driver_card = drivers.driver_card(
            profile.seed, drivers.driver_number(profile.index, self.t))
        self.visit: dict | None = None
        self.overspeed: dict | None = None
        self.long_silence_due = profile.index == LONG_SILENCE_VEHICLE
        self.legs: list[_Leg] = []
        self.leg_index = 0
        self.unsent = 0
        self.last_logged: Record | None = None
        self.silences: list[_Silence] = []
        self.app_offline: list[tuple[float, float]] = []
        self.pending: list[tuple[float, int, Message]] = []
        self.seq = 0
        self.services_since_break = 0
        truth.vehicles.append({
            "uid": profile.uid, "vid": profile.vid, "has_ignition": profile.has_ignition,
            "has_can": profile.has_can, "has_door": profile.has_door,
            "speeder": profile.speeder, "depot": places[profile.depot].name,
        })

    # The stream -----------------------------------------------------------------------

    def messages(self) -> Iterator[Message]:
        """Every message of this vehicle, forever, in ``emit`` order."""
        rng = self.rng
        self._push(ConnectionChange(self.start + rng.uniform(0, 60), self.profile.uid, False, 1))
        self._push(ConnectionChange(self.start + rng.uniform(0, 120), self.profile.uid, True, 1))
        self._run([(self.t, 0, ("log", 1))])
        while True:
            self._plan_next()
            while self.pending and self.pending[0][0] <= self.t:
                yield heapq.heappop(self.pending)[2]

    def io_levels_at(self, t: float) -> dict[int, int] | None:
        """The device's input levels at ``t`` (what ``getio`` returns), None when it is silent."""
        if any(s.start <= t < s.end for s in self.silences[-3:]):
            return None
        levels = {}
        for io, (times, values) in self.io_history.items():
            levels[io] = values[max(0, bisect.bisect_right(times, t) - 1)]
        return levels

    def app_back_online(self, t: float) -> float | None:
        """When the driver's app reconnects, if it is disconnected at ``t`` (else None)."""
        for off, on in reversed(self.app_offline[-3:]):
            if off <= t < on:
                return on
        return None

    # Planning -------------------------------------------------------------------------

    def _plan_next(self) -> None:
        rng = self.rng
        if self.services_since_break >= rng.randint(3, 6):
            self._trip(self.profile.depot, at_client=False)
            self._park(rng.uniform(1800, 3600), at_client=False)
            self.services_since_break = 0
            if self.fuel < 50:
                self.fuel = 100.0
            return
        target = self.node
        while self.roads.distance_m(self.node, target) < 1500:
            target = rng.choice(self.roads.customers)
        self._trip(target, at_client=True)
        self._park(rng.uniform(360, 1500), at_client=True)
        self.services_since_break += 1

    def _maybe_go_silent(self, t0: float, t1: float, trip: tuple[float, float] | None) -> None:
        rng = self.rng
        if self.silences and self.silences[-1].end > t0:
            return
        if trip is not None and self.long_silence_due and t0 >= self.start + LONG_SILENCE_AFTER_S:
            moving = [leg for leg in self.legs if leg.speed_kmh > 0]
            leg = moving[len(moving) // 2]
            self.long_silence_due = False
            self._go_silent(rng.uniform(leg.t0, leg.t1), rng.uniform(*LONG_SILENCE_S), trip)
            return
        if rng.random() >= self.profile.silence_rate:
            return
        start = rng.uniform(t0, t1)
        length = rng.uniform(4200, 6000) if rng.random() < 0.15 else rng.uniform(120, 2400)
        self._go_silent(start, length, trip)

    def _go_silent(self, start: float, length: float, trip: tuple[float, float] | None) -> None:
        silence = _Silence(start, start + length)
        self.silences.append(silence)
        detect = self.rng.uniform(60, 180)
        if detect < length:
            self._push(ConnectionChange(start + detect, self.profile.uid, False, 0))
        in_trip = trip is not None and trip[0] <= start < trip[1]
        self.truth.silent_periods.append({
            "uid": self.profile.uid, "vid": self.profile.vid, "from": start,
            "until": start + length, "mid_trip": in_trip,
            "moving": in_trip and any(leg.t0 <= start < leg.t1 and leg.speed_kmh > 0
                                      for leg in self.legs),
        })

    def _trip(self, target: int, at_client: bool) -> None:
        rng, profile = self.rng, self.profile
        # Ignition events are stamped at whole seconds; starting at the next whole second keeps
        # every record logged before the trip (up to self.t) ahead of the ignition-on event.
        t_on = float(math.floor(self.t) + 1)
        self.card_in = rng.random() < 0.9
        self.driver_card = drivers.driver_card(profile.seed,
                                               drivers.driver_number(profile.index, t_on))
        steps = self.roads.route(self.node, target)
        warmup = 0.0
        if profile.has_ignition:
            # A cold engine warms up for minutes now and then.
            warmup = rng.uniform(180, 420) if rng.random() < 0.15 else rng.uniform(20, 120)
        odo_start = self.odo
        legs: list[_Leg] = []
        t = t_on
        lat, lon = self.lat, self.lon
        if warmup:
            legs.append(_Leg(t, t + warmup, lat, lon, lat, lon, 0.0, self.heading, self.odo, 0.0))
            t += warmup
        motion_start = t
        odo = self.odo
        max_speed = 0
        light_stops = 0
        speeding = profile.speeder
        for number, (_, edge) in enumerate(steps):
            lat1, lon1 = self.roads.lats[edge.to], self.roads.lons[edge.to]
            heading = edge.heading
            limit = edge.speed_limit_kmh
            if speeding and limit >= EXPRESSWAY_KMH:
                speed = round(limit * rng.uniform(*SPEEDER_FACTOR))
            else:
                speed = round(limit * profile.speed_factor * rng.uniform(0.85, 1.05))
            duration = edge.length_m / (speed / 3.6)
            legs.append(_Leg(t, t + duration, lat, lon, lat1, lon1, speed, heading, odo,
                             edge.length_m))
            t += duration
            odo += edge.length_m
            max_speed = max(max_speed, speed)
            lat, lon = lat1, lon1
            if number + 1 < len(steps):
                wait = 0.0
                if self.roads.has_light[edge.to] and rng.random() < 0.45:
                    wait = rng.uniform(10, 75)
                    light_stops += 1
                elif profile.has_ignition and rng.random() < 0.02:
                    wait = rng.uniform(180, 420)
                if wait:
                    legs.append(_Leg(t, t + wait, lat, lon, lat, lon, 0.0, heading, odo, 0.0))
                    t += wait
        arrival = t
        end_idle = 0.0
        if profile.has_ignition:
            end_idle = (rng.uniform(180, 600) if at_client and rng.random() < CUSTOMER_IDLE_SHARE
                        else rng.uniform(10, 90))
            legs.append(_Leg(t, t + end_idle, lat, lon, lat, lon, 0.0, legs[-1].heading, odo, 0.0))
        t_off = float(math.ceil(arrival + end_idle))  # a whole second, like its ignition event
        self.legs, self.leg_index = legs, 0
        trip_start = t_on if profile.has_ignition else motion_start
        trip_end = t_off if profile.has_ignition else arrival
        if self.visit is not None:
            self.visit["left_at"] = trip_start
        self._maybe_go_silent(t_on, t_off, (trip_start, trip_end))
        idle_s = self._record_idle(legs, t_on, t_off) if profile.has_ignition else 0.0

        plan: list[tuple[float, int, tuple]] = self._reconnect_plan(t_on, t_off)
        if profile.has_ignition:
            plan.append((t_on, 0, ("io", catalog.IO_IGNITION, 1)))
            plan.append((t_off, 2, ("io", catalog.IO_IGNITION, 0)))
        else:
            plan.append((motion_start + 1, 1, ("device", DeviceEventKind.MOVEMENT)))
        if not self.card_in:
            plan.append((motion_start + rng.uniform(5, 30), 1,
                         ("device", DeviceEventKind.MOVEMENT_WITHOUT_DRIVER)))
        # Only upload ticks are planned, each carrying how many records it uploads: a batch
        # shows only its last record, so the others never need building.
        tick = t_on + MOVING_LOG_S
        count = 0
        while tick < t_off:
            count += 1
            if count % RECORDS_PER_UPLOAD == 0:
                plan.append((tick, 1, ("log", RECORDS_PER_UPLOAD)))
            tick += MOVING_LOG_S
        plan.append((t_off, 3, ("log", count % RECORDS_PER_UPLOAD + 1)))
        if rng.random() < 0.12:
            pmi, text = rng.choice(catalog.PREDEFINED_TEXTS)
            plan.append((rng.uniform(motion_start, arrival), 1, ("text", pmi, text)))
        if rng.random() < 0.05:
            plan.append((rng.uniform(motion_start, arrival), 1, ("text", None, None)))
        self._run(plan)

        self.lat, self.lon, self.odo, self.node = lat, lon, odo, target
        self.heading = legs[-1].heading
        self.legs = []
        self.truth.trips.append({
            "vid": profile.vid, "uid": profile.uid,
            "detection": "ignition" if profile.has_ignition else "motion",
            "start": trip_start,
            "end": trip_end,
            "motion_start": motion_start, "arrival": arrival,
            "start_lat": legs[0].lat0, "start_lon": legs[0].lon0,
            "end_lat": lat, "end_lon": lon,
            "odometer_start_m": round(odo_start), "odometer_end_m": round(odo),
            "odometer_delta_m": round(odo) - round(odo_start),
            "distance_m": round(odo - odo_start, 1),
            "max_speed_kmh": max_speed, "light_stops": light_stops, "idle_s": round(idle_s, 1),
            "driver_card": self.driver_card if (profile.has_can and self.card_in) else None,
        })
        place = self.places[target]
        self.visit = {"vid": profile.vid, "uid": profile.uid, "place": place.name,
                      "kind": place.kind, "arrived_at": trip_end, "left_at": None}
        self.truth.place_visits.append(self.visit)
        self.t = t_off

    def _record_idle(self, legs: list[_Leg], t_on: float, t_off: float) -> float:
        """Note the trip's idle periods (ignition on, standing) in the truth; their seconds.

        Every leg in motion is far above 5 km/h, so idle is exactly the time outside them.
        """
        periods = self.truth.idle_periods
        vid = self.profile.vid
        idle = 0.0
        since = t_on
        for leg in legs:
            if leg.speed_kmh > 0:
                if leg.t0 > since:
                    periods.append((vid, since, leg.t0))
                    idle += leg.t0 - since
                since = leg.t1
        if t_off > since:
            periods.append((vid, since, t_off))
            idle += t_off - since
        return idle

    def _park(self, duration: float, at_client: bool) -> None:
        rng = self.rng
        t0, t1 = self.t, self.t + duration
        self._maybe_go_silent(t0, t1, None)
        plan: list[tuple[float, int, tuple]] = self._reconnect_plan(t0, t1)
        tick = t0 + PARKED_LOG_S
        while tick < t1:
            plan.append((tick, 1, ("log", 1)))
            tick += PARKED_LOG_S
        if at_client:
            visit = t0 + rng.uniform(60, 240)
            plan.append((visit, 1, ("service",)))
            if self.profile.has_door:
                plan.append((t0 + rng.uniform(20, 55), 0, ("io", catalog.IO_DOOR, 1)))
                plan.append((t1 - rng.uniform(30, 90), 0, ("io", catalog.IO_DOOR, 0)))
            if rng.random() < 0.5:
                plan.append((visit + rng.uniform(10, 90), 1, ("form",)))
            if rng.random() < 0.12:
                plan.append((t0 + rng.uniform(30, duration - 30), 1, ("text", None, None)))
        else:
            plan.append((t0 + rng.uniform(20, 60), 1, ("text", 2, "ON BREAK")))
            if rng.random() < 0.5:
                app_off, app_on = t0 + rng.uniform(120, 400), t1 - rng.uniform(30, 100)
                plan.append((app_off, 1, ("app", 0)))
                plan.append((app_on, 1, ("app", 1)))
                self.app_offline.append((app_off, app_on))
        if rng.random() < 0.06:
            cut = t0 + rng.uniform(60, duration / 2)
            plan.append((cut, 1, ("device", DeviceEventKind.INTERNAL_BATTERY)))
            plan.append((rng.uniform(cut + 60, t1 - 10), 1,
                         ("device", DeviceEventKind.EXTERNAL_POWER)))
        self._run(plan)
        self.t = t1

    # Executing a plan -------------------------------------------------------------------

    def _run(self, plan: list[tuple[float, int, tuple]]) -> None:
        # An input changes at the whole second its event is stamped with, so it is ordered
        # there: a record logged later in that second must already carry the new level.
        plan = [(float(int(t)), order, action) if action[0] == "io" else (t, order, action)
                for t, order, action in plan]
        plan.sort(key=lambda item: (item[0], item[1]))
        for t, _, action in plan:
            self._reconnect_if_due(t)
            kind = action[0]
            if kind == "log":
                self._log(t, records=action[1])
            elif kind == "io":
                self._io_change(t, action[1], action[2])
            elif kind == "device":
                self._device_event(t, action[1])
            elif kind == "text":
                self._driver_text(t, action[1], action[2])
            elif kind == "form":
                self._form(t)
            elif kind == "service":
                self._service(t)
            elif kind == "app":
                self._push(ConnectionChange(t, self.profile.uid, True, action[1]))

    def _reconnect_plan(self, t0: float, t1: float) -> list[tuple[float, int, tuple]]:
        """A no-op at the end of a silence inside [t0, t1), so the device reconnects on time."""
        if self.silences and not self.silences[-1].over and t0 <= self.silences[-1].end < t1:
            return [(self.silences[-1].end, 0, ("noop",))]
        return []

    def _silence_at(self, t: float) -> _Silence | None:
        if self.silences:
            silence = self.silences[-1]
            if silence.start <= t < silence.end:
                return silence
        return None

    def _reconnect_if_due(self, t: float) -> None:
        if not self.silences:
            return
        silence = self.silences[-1]
        if silence.over or t < silence.end:
            return
        silence.over = True
        back = silence.end
        self._push(ConnectionChange(back + self.rng.uniform(0.1, 1.0), self.profile.uid, False, 1))
        if self.unsent and self.last_logged is not None:
            self._push(RecordsBatch(back + self.rng.uniform(1.5, 3.0), self.profile.uid,
                                    self.unsent, self.last_logged))
            self._sent(self.last_logged)
            self.unsent = 0

    def _device_emit_time(self, tmx: float, low: float, high: float) -> float:
        silence = self._silence_at(tmx)
        if silence is None:
            return tmx + self.rng.uniform(low, high)
        silence.backlog += 1
        return silence.end + 0.5 + 0.05 * silence.backlog

    def _kinematics(self, t: float) -> tuple[float, float, int, int, float]:
        legs = self.legs
        if not legs:
            return self.lat, self.lon, 0, int(self.heading) % 360, self.odo
        i = self.leg_index
        while i + 1 < len(legs) and t >= legs[i].t1:
            i += 1
        self.leg_index = i
        leg = legs[i]
        span = leg.t1 - leg.t0
        f = min(1.0, max(0.0, (t - leg.t0) / span)) if span > 0 else 1.0
        lat = round(leg.lat0 + f * (leg.lat1 - leg.lat0), 7)
        lon = round(leg.lon0 + f * (leg.lon1 - leg.lon0), 7)
        speed = int(leg.speed_kmh) if f < 1.0 else 0
        return lat, lon, speed, int(leg.heading) % 360, leg.odo0 + f * leg.length_m

    def _record(self, t: float) -> Record:
        lat, lon, speed, heading, odo = self._kinematics(t)
        eco = None
        if self.profile.has_can:
            ignition = self.ignition_since is not None or (
                not self.profile.has_ignition and bool(self.legs))
            rpm = 0
            if ignition:
                jitter = self.rng.random()
                rpm = int(1100 + 18 * speed + 200 * jitter) if speed else int(750 + 150 * jitter)
            engine_s = self.engine_s + (t - self.ignition_since if self.ignition_since else 0.0)
            fuel = max(1, int(self.fuel - (odo - self.odo) / 4000))
            eco = Eco(rpm, int(engine_s // 3600), fuel, self.driver_card if self.card_in else None)
        alt = int(45 + 35 * math.sin(lat * 250) + 25 * math.cos(lon * 310))
        satellites = 7 + int(self.rng.random() * 10)
        return Record(t, self.profile.vid, lat, lon, speed, heading, round(odo), satellites, alt,
                      self.io_snapshot, eco)

    def _log(self, t: float, records: int) -> None:
        """Log ``records`` records ending at ``t`` and upload them unless the device is silent.

        During a silence the batch waits for the reconnection; its last record is then the
        one logged at the last upload tick before coverage returned.
        """
        self.unsent += records
        self.last_logged = self._record(t)
        if self._silence_at(t) is None:
            self._push(RecordsBatch(t + self.rng.uniform(0.2, 1.5), self.profile.uid,
                                    self.unsent, self.last_logged))
            self._sent(self.last_logged)
            self.unsent = 0

    def _sent(self, record: Record) -> None:
        """Follow overspeed episodes over the records the device sends, in ``tmx`` order."""
        episode = self.overspeed
        if record.speed_kmh > OVERSPEED_KMH:
            if episode is None:
                episode = self.overspeed = {
                    "vid": self.profile.vid, "uid": self.profile.uid, "start": record.tmx,
                    "end": None, "records": [],
                }
                self.truth.overspeed_episodes.append(episode)
            episode["records"].append((record.tmx, record.speed_kmh))
        elif episode is not None:
            episode["end"] = record.tmx
            self.overspeed = None

    def _io_change(self, t: float, io: int, level: int) -> None:
        t = float(int(t))
        previous = self.levels.get(io)
        self.levels[io] = level
        self.io_snapshot = _io_snapshot(self.levels)
        times, values = self.io_history[io]
        times.append(t)
        values.append(level)
        if io == catalog.IO_IGNITION:
            if level:
                self.ignition_since = t
            elif self.ignition_since is not None:
                self.engine_s += t - self.ignition_since
                self.ignition_since = None
        record = self._record(t)
        self.last_logged = record
        self.unsent += 1
        emit = self._device_emit_time(t, 0.5, 8.0)
        message = IoEvent(emit, self.profile.uid, record, self.ids.object_id(t),
                          self.ids.object_id(emit), catalog.IO_EVENT_EIDS[(io, level)], io, level,
                          self._address())
        self._push(message)
        self._sent(record)
        self.truth.io_changes.append({
            "vid": self.profile.vid, "uid": self.profile.uid, "io": io, "tmx": t,
            "from_value": previous, "to_value": level, "emitted": emit,
            "event_id": message.event_id, "odometer_m": record.odometer_m,
        })

    def _device_event(self, t: float, kind: DeviceEventKind) -> None:
        t = float(int(t))
        record = self._record(t)
        self.last_logged = record
        self.unsent += 1
        emit = self._device_emit_time(t, 0.5, 8.0)
        message = DeviceEvent(emit, self.profile.uid, record, self.ids.object_id(t),
                              self.ids.object_id(emit), catalog.DEVICE_EVENT_EIDS[kind], kind,
                              self._address())
        self._push(message)
        self._sent(record)
        self.truth.device_events.append({
            "vid": self.profile.vid, "uid": self.profile.uid, "kind": kind.value, "tmx": t,
            "emitted": emit, "event_id": message.event_id,
        })

    def _driver_text(self, t: float, pmi: int | None, text: str | None) -> None:
        t = float(int(t))
        if text is None:
            text = self.rng.choice(catalog.FREE_TEXTS)
        lat, lon, *_ = self._kinematics(t)
        eid = catalog.FREE_TEXT_EID if pmi is None else catalog.PREDEFINED_TEXT_EID
        emit = t + self.rng.uniform(0.002, 5.0)
        self._push(DriverText(emit, self.profile.uid, t, lat, lon, eid, text, pmi))
        self.truth.driver_texts.append({
            "uid": self.profile.uid, "tmx": t, "emitted": emit, "eid": eid,
            "kind": "free" if pmi is None else "predefined", "predefined_id": pmi, "text": text,
        })

    def _form(self, t: float) -> None:
        t = float(int(t))
        eid, name, fields = catalog.form_submission(self.rng, self.places[self.node].name)
        lat, lon, *_ = self._kinematics(t)
        emit = t + self.rng.uniform(0.5, 40.0)
        self._push(FormSubmission(emit, self.profile.uid, t, lat, lon, eid, name, fields))
        self.truth.forms.append({
            "uid": self.profile.uid, "tmx": t, "emitted": emit, "eid": eid, "form_name": name,
            "fields": fields,
        })

    def _service(self, t: float) -> None:
        t = float(int(t))
        delivered, text = self.rng.choice(catalog.SERVICE_OUTCOMES)
        lat, lon, *_ = self._kinematics(t)
        emit = t + self.rng.uniform(0.5, 20.0)
        event_id, service_id = self.ids.object_id(emit), self.ids.service_id(t)
        self._push(ServiceVisit(emit, self.profile.uid, self.profile.vid, t, lat, lon, event_id,
                                service_id, delivered, text))
        self.truth.services.append({
            "uid": self.profile.uid, "vid": self.profile.vid, "tmx": t, "emitted": emit,
            "service_event_id": event_id, "service_id": service_id, "delivered": delivered,
            "message": text, "place": self.places[self.node].name,
        })

    def _address(self) -> str:
        return f"{self.roads.street_at(self.node)}, {catalog.CITY}"

    def _push(self, message: Message) -> None:
        self.seq += 1
        heapq.heappush(self.pending, (message.emit, self.seq, message))
