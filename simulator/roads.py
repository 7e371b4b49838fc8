"""A seeded street grid around Lisbon and the fastest routes over it.

Intersections sit on a jittered square grid; every fourth row and column is an avenue
(faster), one row and one column are expressways (fastest, no traffic lights), some
intersections have traffic lights. Routes are the fastest paths by travel time, so
vehicles prefer expressways and avenues the way drivers do.
"""

from __future__ import annotations

import functools
import heapq
import math
import random
from dataclasses import dataclass

from simulator import catalog
from simulator.geo import bearing_deg, haversine_m, offset

CENTRE = (38.7369, -9.1427)
STREET_KMH = 50.0
AVENUE_KMH = 80.0
EXPRESSWAY_KMH = 100.0
EXPRESSWAY_ROW = 10
EXPRESSWAY_COL = 14
EXPRESSWAY_EAST_WEST = "Segunda Circular"
EXPRESSWAY_NORTH_SOUTH = "Eixo Norte-Sul"
CUSTOMERS = 60


@dataclass(frozen=True, slots=True)
class Edge:
    """A street between two adjacent intersections."""

    to: int
    length_m: float
    speed_limit_kmh: float
    street: str
    heading: float


@dataclass(frozen=True, slots=True, eq=False)
class RoadNetwork:
    """Intersections (lat, lon), their streets, traffic lights, depots and customer sites.

    The fleet serves a fixed set of customer sites (as real fleets do), which also lets the
    route cache answer most trips.
    """

    lats: tuple[float, ...]
    lons: tuple[float, ...]
    edges: tuple[tuple[Edge, ...], ...]
    has_light: tuple[bool, ...]
    depots: tuple[int, ...]
    customers: tuple[int, ...]
    size: int
    xs: tuple[float, ...]
    ys: tuple[float, ...]

    @classmethod
    def build(cls, rng: random.Random, size: int = 24, spacing_m: float = 650.0) -> RoadNetwork:
        """A ``size`` × ``size`` grid with ``spacing_m`` between neighbouring intersections."""
        lats: list[float] = []
        lons: list[float] = []
        xs: list[float] = []
        ys: list[float] = []
        half = (size - 1) * spacing_m / 2
        for row in range(size):
            for col in range(size):
                north = row * spacing_m - half + rng.uniform(-0.2, 0.2) * spacing_m
                east = col * spacing_m - half + rng.uniform(-0.2, 0.2) * spacing_m
                lat, lon = offset(*CENTRE, north, east)
                lats.append(round(lat, 7))
                ys.append(north)
                xs.append(east)
                lons.append(round(lon, 7))
        edges: list[list[Edge]] = [[] for _ in range(size * size)]
        lights: list[bool] = []
        for row in range(size):
            for col in range(size):
                node = row * size + col
                avenue_crossing = row % 4 == 0 and col % 4 == 0
                light = avenue_crossing or rng.random() < 0.3
                lights.append(light and row != EXPRESSWAY_ROW and col != EXPRESSWAY_COL)
                if col + 1 < size:
                    street, limit = _street(row, EXPRESSWAY_ROW, catalog.STREETS_EAST_WEST,
                                            EXPRESSWAY_EAST_WEST)
                    cls._link(edges, lats, lons, node, node + 1, limit, street)
                if row + 1 < size:
                    street, limit = _street(col, EXPRESSWAY_COL, catalog.STREETS_NORTH_SOUTH,
                                            EXPRESSWAY_NORTH_SOUTH)
                    cls._link(edges, lats, lons, node, node + size, limit, street)
        places = rng.sample(range(size * size), 3 + CUSTOMERS)
        return cls(tuple(lats), tuple(lons), tuple(tuple(e) for e in edges), tuple(lights),
                   tuple(places[:3]), tuple(places[3:]), size, tuple(xs), tuple(ys))

    @staticmethod
    def _link(edges: list[list[Edge]], lats: list[float], lons: list[float], a: int, b: int,
              limit: float, street: str) -> None:
        length = haversine_m(lats[a], lons[a], lats[b], lons[b])
        edges[a].append(Edge(b, length, limit, street, bearing_deg(lats[a], lons[a], lats[b],
                                                                   lons[b])))
        edges[b].append(Edge(a, length, limit, street, bearing_deg(lats[b], lons[b], lats[a],
                                                                   lons[a])))

    def distance_m(self, a: int, b: int) -> float:
        """Straight-line distance between two intersections."""
        return haversine_m(self.lats[a], self.lons[a], self.lats[b], self.lons[b])

    def route(self, source: int, target: int) -> tuple[tuple[int, Edge], ...]:
        """The fastest path as ``(from_node, edge)`` steps (empty when source is target).

        Vehicles leave from a few dozen places only, so one shortest-path tree by travel
        time per source (Dijkstra, cached) answers every route from it.
        """
        return _route(self, source, target)

    def _tree(self, source: int) -> dict[int, tuple[int, Edge]]:
        """For every node, the last step of the fastest path from ``source`` to it."""
        best = {source: 0.0}
        previous: dict[int, tuple[int, Edge]] = {}
        queue = [(0.0, source)]
        edges = self.edges
        while queue:
            cost, node = heapq.heappop(queue)
            if cost > best[node]:
                continue
            for edge in edges[node]:
                candidate = cost + edge.length_m / edge.speed_limit_kmh
                if candidate < best.get(edge.to, math.inf):
                    best[edge.to] = candidate
                    previous[edge.to] = (node, edge)
                    heapq.heappush(queue, (candidate, edge.to))
        return previous

    def street_at(self, node: int) -> str:
        """A street name passing through an intersection (for addresses)."""
        return self.edges[node][0].street


def _street(line: int, expressway: int, names: tuple[str, ...],
            expressway_name: str) -> tuple[str, float]:
    """The name and speed limit of grid line ``line`` (a row or a column)."""
    if line == expressway:
        return expressway_name, EXPRESSWAY_KMH
    return names[line % len(names)], AVENUE_KMH if line % 4 == 0 else STREET_KMH


@functools.lru_cache(maxsize=256)
def _tree(network: RoadNetwork, source: int) -> dict[int, tuple[int, Edge]]:
    return network._tree(source)


@functools.lru_cache(maxsize=8192)
def _route(network: RoadNetwork, source: int, target: int) -> tuple[tuple[int, Edge], ...]:
    previous = _tree(network, source)
    steps: list[tuple[int, Edge]] = []
    node = target
    while node != source:
        step = previous[node]
        steps.append(step)
        node = step[0]
    steps.reverse()
    return tuple(steps)
