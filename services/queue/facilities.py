"""Finding facilities near a person.

- Rule 1: search is nearest first within ``radius_km`` (default 10 km, at most 100 km) of the
  given point; without a point, by name.
- Rule 2: a bounding box narrows the candidates on an index, then the exact great-circle
  distance (haversine, Earth radius 6371 km) decides and orders.
"""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0
DEFAULT_RADIUS_KM = 10.0
MAX_RADIUS_KM = 100.0


def bounding_box(lat: float, lon: float, radius_km: float) -> tuple[float, float, float, float]:
    """Rule 2: (min_lat, max_lat, min_lon, max_lon) that contains the circle."""
    dlat = math.degrees(radius_km / EARTH_RADIUS_KM)
    dlon = math.degrees(radius_km / (EARTH_RADIUS_KM * max(math.cos(math.radians(lat)), 1e-6)))
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Rule 2: haversine distance."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def clamp_radius(radius_km: float | None) -> float:
    """Rule 1."""
    if radius_km is None or radius_km <= 0:
        return DEFAULT_RADIUS_KM
    return min(radius_km, MAX_RADIUS_KM)
