"""A city's day of reports, generated from the catalogue and the city map.

Pure and seeded: the same seed and size give the same day. Times are seconds
after midnight; the replayer maps them onto the wall clock at any speed.

What a day holds (shares of the detections):

- street cameras (video AI), 50 %: an incident raises an alarm again and again
  while it lasts (every 30 s to 3 min, a few to a dozen times), from the same
  camera at nearly the same spot, so intake fuses the repeats into one case;
  a few alarms are low-confidence noise that intake discards;
- drone sweeps, 15 %: a drone flies a straight line across part of a district
  and reports what it sees every 100-200 m, each a different place;
- IoT sensor bursts, 20 %: a sensor bolted to an asset (a manhole cover, a
  street light) fires a burst of readings within a minute or two; intake
  fuses them on the device;
- citizen reports, 10 %, and grid inspectors' reports, 5 %: one report each,
  anywhere.

Categories follow a skewed mix (a few 小类 are most of the work, as in real
城管 statistics): each source draws from the kinds it can see with Zipf-like
weights over a seeded order of the catalogue. Arrivals follow a city's day:
quiet at night, peaks in the morning and late afternoon.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from cityops_tools.loop import detection_payload
from svckit.reference import Catalogue, Category, CategoryKind, CityMap

DAY_SECONDS = 86_400.0
# Relative activity per hour of the day, 00:00 … 23:00.
HOURLY_PROFILE = (
    0.25, 0.2, 0.15, 0.15, 0.2, 0.35, 0.7, 1.1, 1.5, 1.6, 1.5, 1.3,
    1.1, 1.2, 1.4, 1.5, 1.6, 1.5, 1.3, 1.1, 0.9, 0.7, 0.5, 0.35,
)  # fmt: skip
SHARES = {"camera": 0.50, "drone": 0.15, "iot": 0.20, "citizen": 0.10, "inspector": 0.05}
NOISE_SHARE = 0.03  # camera alarms below intake's review threshold


@dataclass(frozen=True)
class Report:
    """One detection to post at `at` seconds after midnight."""

    at: float
    origin: str  # camera, drone, iot, citizen, inspector
    body: dict[str, Any]


class _Mix:
    """Draws categories with weight 1/rank over a seeded order."""

    def __init__(self, rng: random.Random, categories: tuple[Category, ...]) -> None:
        self.order = list(categories)
        rng.shuffle(self.order)
        self.weights = [1.0 / (rank + 1) for rank in range(len(self.order))]

    def draw(self, rng: random.Random) -> Category:
        return rng.choices(self.order, self.weights)[0]


def _start_time(rng: random.Random) -> float:
    hour = rng.choices(range(24), HOURLY_PROFILE)[0]
    return hour * 3600 + rng.uniform(0, 3600)


def _offset(
    latitude: float, longitude: float, north_m: float, east_m: float
) -> tuple[float, float]:
    return (
        latitude + north_m / 111_000,
        longitude + east_m / (111_000 * math.cos(math.radians(latitude))),
    )


class DayGenerator:
    def __init__(self, city: CityMap, catalogue: Catalogue, seed: int) -> None:
        self.city = city
        self.catalogue = catalogue
        self.rng = random.Random(seed)
        events = catalogue.by_kind(CategoryKind.EVENT)
        components = catalogue.by_kind(CategoryKind.COMPONENT)
        self.mixes = {
            "camera": _Mix(self.rng, events),
            "drone": _Mix(self.rng, catalogue.categories),
            "iot": _Mix(self.rng, components),
            "citizen": _Mix(self.rng, catalogue.categories),
            "inspector": _Mix(self.rng, catalogue.categories),
        }
        self._seq = 0
        self._cameras: dict[str, tuple[float, float]] = {}

    def day(self, detections: int) -> list[Report]:
        """About `detections` reports (exactly that many), sorted by time."""
        reports: list[Report] = []
        for origin, share in SHARES.items():
            target = round(detections * share)
            made: list[Report] = []
            while len(made) < target:
                made.extend(self._episode(origin))
            reports.extend(made[:target])
        while len(reports) < detections:
            reports.extend(self._episode("citizen"))
        reports = reports[:detections]
        reports.sort(key=lambda r: r.at)
        return reports

    def _episode(self, origin: str) -> list[Report]:
        return {
            "camera": self._camera_incident,
            "drone": self._drone_sweep,
            "iot": self._sensor_burst,
            "citizen": self._single,
            "inspector": self._single,
        }[origin](origin)

    def _point(self) -> tuple[float, float]:
        return self.city.random_point(self.rng)

    def _inside(
        self, point: tuple[float, float], fallback: tuple[float, float]
    ) -> tuple[float, float]:
        return point if self.city.locate(*point) is not None else fallback

    def _body(
        self,
        category: Category,
        kind: str,
        device: str,
        point: tuple[float, float],
        confidence: float,
    ) -> dict[str, Any]:
        self._seq += 1
        body = detection_payload(self.rng, self.city, self.catalogue, self._seq)
        body.update(
            source_id=device,
            device_id=device,
            source_kind=kind,
            category_code=category.code,
            latitude=point[0],
            longitude=point[1],
            confidence=confidence,
            description=f"{category.name_zh} / {category.name_en}",
        )
        return body

    def _camera_incident(self, origin: str) -> list[Report]:
        rng = self.rng
        camera = f"cam-{rng.randint(1, 5000):05d}"
        mounted = self._cameras.setdefault(camera, self._point())
        # What the camera sees: a spot within 20 m of where it hangs.
        spot = self._inside(_offset(*mounted, rng.uniform(-20, 20), rng.uniform(-20, 20)), mounted)
        category = self.mixes[origin].draw(rng)
        at = _start_time(rng)
        reports = []
        for _ in range(min(12, 1 + int(rng.expovariate(1 / 3)))):
            noise = rng.random() < NOISE_SHARE
            point = self._inside(_offset(*spot, rng.uniform(-5, 5), rng.uniform(-5, 5)), spot)
            confidence = rng.uniform(0.3, 0.49) if noise else rng.uniform(0.8, 0.99)
            body = self._body(category, "video_ai", camera, point, round(confidence, 3))
            reports.append(Report(at % DAY_SECONDS, origin, body))
            at += rng.uniform(30, 180)
        return reports

    def _drone_sweep(self, origin: str) -> list[Report]:
        rng = self.rng
        drone = f"uav-{rng.randint(1, 60):03d}"
        start = self._point()
        heading = rng.uniform(0, 2 * math.pi)
        at = _start_time(rng)
        reports = []
        travelled = 0.0
        for _ in range(rng.randint(8, 30)):
            travelled += rng.uniform(100, 200)
            point = _offset(*start, travelled * math.cos(heading), travelled * math.sin(heading))
            if self.city.locate(*point) is None:
                break
            category = self.mixes[origin].draw(rng)
            body = self._body(category, "drone", drone, point, round(rng.uniform(0.8, 0.97), 3))
            reports.append(Report(at % DAY_SECONDS, origin, body))
            at += rng.uniform(10, 40)
        return reports or self._single("citizen")

    def _sensor_burst(self, origin: str) -> list[Report]:
        rng = self.rng
        sensor = f"sensor-{rng.randint(1, 20000):05d}"
        category = self.mixes[origin].draw(rng)
        point = self._point()
        at = _start_time(rng)
        reports = []
        for _ in range(rng.randint(3, 15)):
            body = self._body(category, "iot", sensor, point, round(rng.uniform(0.85, 0.99), 3))
            reports.append(Report(at % DAY_SECONDS, origin, body))
            at += rng.uniform(2, 10)
        return reports

    def _single(self, origin: str) -> list[Report]:
        rng = self.rng
        category = self.mixes[origin].draw(rng)
        person = f"{origin}-{rng.randint(1, 100_000):06d}"
        body = self._body(category, origin, person, self._point(), 1.0)
        return [Report(_start_time(rng), origin, body)]
