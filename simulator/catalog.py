"""What the simulated fleet can say: I/O numbers, event ids, driver texts, form templates.

The ``eid`` values are this simulator's convention (the manual shows ids but not their
catalogue): one id per kind of event, stable across runs, listed in docs/simulator.md.
"""

from __future__ import annotations

import random
from enum import StrEnum

IO_IGNITION = 1
"""Digital input 1: ignition (the pipeline's default ignition input)."""
IO_DOOR = 2
"""Digital input 2: cargo door switch (opened at service stops)."""
IO_PRIVATE = 8
"""Digital input 8: a private-mode switch, always 1 here (the manual's record shows it)."""

IO_EVENT_EIDS: dict[tuple[int, int], int] = {
    (IO_IGNITION, 1): 3845,
    (IO_IGNITION, 0): 3846,
    (IO_DOOR, 1): 3850,
    (IO_DOOR, 0): 3851,
}


class DeviceEventKind(StrEnum):
    """The ``event`` sub-type ``event`` kinds the manual lists."""

    INTERNAL_BATTERY = "internal_battery"
    EXTERNAL_POWER = "external_power"
    MOVEMENT = "movement"
    MOVEMENT_WITHOUT_DRIVER = "movement_without_driver_id"


DEVICE_EVENT_EIDS: dict[DeviceEventKind, int] = {
    DeviceEventKind.INTERNAL_BATTERY: 3901,
    DeviceEventKind.EXTERNAL_POWER: 3902,
    DeviceEventKind.MOVEMENT: 3903,
    DeviceEventKind.MOVEMENT_WITHOUT_DRIVER: 3904,
}

FREE_TEXT_EID = 3951
PREDEFINED_TEXT_EID = 25106

FREE_TEXTS: tuple[str, ...] = (
    "Running 10 minutes late",
    "Client absent, left a notice",
    "Traffic jam on the A5",
    "Road closed, taking a detour",
    "Need a new fuel card",
    "Loading dock busy, waiting",
    "Cliente não estava, volto às 15h",
    "Ok, on my way",
)

PREDEFINED_TEXTS: tuple[tuple[int, str], ...] = (
    (1, "TRAFFIC"),
    (2, "ON BREAK"),
    (3, "ARRIVED"),
    (4, "OK"),
    (5, "DELAYED"),
    (6, "VEHICLE PROBLEM"),
)
PREDEFINED_OK = 4

STREETS_NORTH_SOUTH: tuple[str, ...] = (
    "Avenida da Liberdade", "Avenida da República", "Rua Augusta", "Avenida Almirante Reis",
    "Rua do Ouro", "Avenida de Roma", "Rua Castilho", "Avenida da Igreja",
    "Rua de São Bento", "Avenida Fontes Pereira de Melo", "Rua Morais Soares",
    "Avenida Gago Coutinho",
)
STREETS_EAST_WEST: tuple[str, ...] = (
    "Rua da Prata", "Avenida Duque de Ávila", "Rua Braamcamp", "Avenida Infante Santo",
    "Rua Alexandre Herculano", "Avenida Estados Unidos da América", "Rua Pascoal de Melo",
    "Avenida de Berna", "Rua do Salitre", "Avenida Brasília", "Rua Palmira",
    "Avenida dos Combatentes",
)
CITY = "Lisboa, Portugal"

SERVICE_OUTCOMES: tuple[tuple[bool, str], ...] = (
    (True, "Delivered"),
    (True, "Delivered"),
    (True, "Delivered"),
    (True, "Delivered"),
    (True, "Delivered"),
    (True, "Delivered"),
    (True, "Visited"),
    (True, "Delivered - left at reception"),
    (False, "Not delivered - client absent"),
    (False, "Not delivered - business closed"),
    (False, "Not delivered - refused by client"),
)
"""Outcomes of a service at a customer, drawn uniformly: about one in four fails."""

DEPOT_NAMES: tuple[str, ...] = ("Depot Alcântara", "Depot Olivais", "Depot Benfica")
CUSTOMER_KINDS: tuple[str, ...] = (
    "Padaria", "Farmácia", "Mercado", "Hotel", "Clínica", "Café", "Oficina", "Escola",
    "Restaurante", "Livraria",
)
CUSTOMER_NAMES: tuple[str, ...] = (
    "Central", "Estrela", "Aurora", "Tejo", "Lopes", "São João", "Bairro Alto", "Graça",
)
"""Customer sites are named ``kind name`` (``Farmácia Estrela``): 80 distinct names."""
DEPOT_RADIUS_M = 150.0
CUSTOMER_RADIUS_M = 80.0


def form_submission(rng: random.Random, client: str) -> tuple[int, str, dict[str, object]]:
    """A filled form ``(eid, name, fields)``: one of several templates with varied fields."""
    choice = rng.randrange(4)
    if choice == 0:
        return 33, "Delivery proof", {
            "Client": client,
            "Work": rng.choice(("Delivery", "Pickup and delivery", "Return")),
            "Local": rng.choice(("Front desk", "Warehouse", "Back door", "Reception")),
            "Packages": str(rng.randint(1, 12)),
            "Signed by": rng.choice(("Ana Silva", "João Costa", "Rita Gomes", "")),
        }
    if choice == 1:
        return 34, "Vehicle inspection", {
            "Tyres OK": rng.choice(("Yes", "Yes", "No")),
            "Lights OK": "Yes",
            "Fuel": f"{rng.randint(10, 100)}%",
            "Notes": rng.choice(("", "Scratch on left door", "Wipers worn")),
        }
    if choice == 2:
        return 35, "Incident report", {
            "Type": rng.choice(("Minor collision", "Flat tyre", "Damaged goods")),
            "Description": rng.choice(("Parking lot, no injuries", "Box crushed in transit")),
            "Injuries": "No",
            "Photos": rng.randint(0, 4),
        }
    return 36, "Pickup", {
        "Client": client,
        "Reference": f"PK-{rng.randint(10000, 99999)}",
        "Pallets": rng.randint(1, 6),
        "Weight (kg)": f"{rng.uniform(20, 900):.1f}",
    }
