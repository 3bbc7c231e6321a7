"""Generate ``sample-city.geojson``: the made-up 示例市 / Sample City.

The demo, the simulators and the tests need a city whose districts, streets
and grids tile exactly (no gaps, no overlaps) so that every point inside it
has exactly one grid. Hand-editing coordinates cannot guarantee that, so the
file is generated from a handful of breakpoints here and the output is
committed; ``--check`` lets CI prove the committed file is still what this
script produces.

Layout (WGS84, lon 121.40-121.55, lat 31.18-31.30)::

    31.30 +------------------+------------------+
          | D02 西城区 S02    | D01 东湖区 S02    |
    31.26 +------------------+------------------+
          | D02 西城区 S01    | D01 东湖区 S01    |
    31.22 +------------------+------------------+
          | D03 南港区 S01    | D03 南港区 S02    |
    31.18 +------------------+------------------+
       121.400            121.475            121.550

Each street is split 2 x 2 into grids G01..G04 (G01 south-west, G02
south-east, G03 north-west, G04 north-east).

Usage::

    uv run python config/geography/make_sample_city.py          # rewrite the file
    uv run python config/geography/make_sample_city.py --check  # exit 1 if stale
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("sample-city.geojson")

# Breakpoints as Decimals so shared edges are bit-for-bit identical in the output.
WEST, MID_LON, EAST = Decimal("121.400"), Decimal("121.475"), Decimal("121.550")
SOUTH, LAT_1, LAT_2, NORTH = Decimal("31.18"), Decimal("31.22"), Decimal("31.26"), Decimal("31.30")

# A rectangle as (west, south, east, north).
Rect = tuple[Decimal, Decimal, Decimal, Decimal]

# (code, name_zh, name_en, [(street_code_suffix, name_zh, name_en, rect), ...])
DISTRICTS: list[tuple[str, str, str, list[tuple[str, str, str, Rect]]]] = [
    (
        "D01",
        "东湖区",
        "Donghu District",
        [
            ("S01", "湖滨街道", "Hubin Subdistrict", (MID_LON, LAT_1, EAST, LAT_2)),
            ("S02", "望江街道", "Wangjiang Subdistrict", (MID_LON, LAT_2, EAST, NORTH)),
        ],
    ),
    (
        "D02",
        "西城区",
        "Xicheng District",
        [
            ("S01", "西门街道", "Ximen Subdistrict", (WEST, LAT_1, MID_LON, LAT_2)),
            ("S02", "长乐街道", "Changle Subdistrict", (WEST, LAT_2, MID_LON, NORTH)),
        ],
    ),
    (
        "D03",
        "南港区",
        "Nangang District",
        [
            ("S01", "港口街道", "Gangkou Subdistrict", (WEST, SOUTH, MID_LON, LAT_1)),
            ("S02", "新港街道", "Xingang Subdistrict", (MID_LON, SOUTH, EAST, LAT_1)),
        ],
    ),
]


def _ring(rect: Rect) -> list[list[float]]:
    """Closed counter-clockwise exterior ring, as RFC 7946 asks for."""
    west, south, east, north = rect
    corners = [(west, south), (east, south), (east, north), (west, north), (west, south)]
    return [[float(lon), float(lat)] for lon, lat in corners]


def _union(rects: list[Rect]) -> Rect:
    """Bounding rectangle of rectangles that tile it (true for every level here)."""
    return (
        min(r[0] for r in rects),
        min(r[1] for r in rects),
        max(r[2] for r in rects),
        max(r[3] for r in rects),
    )


def _split_2x2(rect: Rect) -> list[Rect]:
    """Four equal grids ordered SW, SE, NW, NE, so G01 is always the south-west one."""
    west, south, east, north = rect
    mid_lon, mid_lat = (west + east) / 2, (south + north) / 2
    return [
        (west, south, mid_lon, mid_lat),
        (mid_lon, south, east, mid_lat),
        (west, mid_lat, mid_lon, north),
        (mid_lon, mid_lat, east, north),
    ]


def _feature(
    level: str, code: str, name_zh: str, name_en: str, parent: str | None, rect: Rect
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {
            "level": level,
            "code": code,
            "name_zh": name_zh,
            "name_en": name_en,
            "parent_code": parent,
        },
        "geometry": {"type": "Polygon", "coordinates": [_ring(rect)]},
    }


def build() -> dict[str, Any]:
    """The whole FeatureCollection: districts first, then streets, then grids."""
    districts: list[dict[str, Any]] = []
    streets: list[dict[str, Any]] = []
    grids: list[dict[str, Any]] = []
    for d_code, d_zh, d_en, street_specs in DISTRICTS:
        districts.append(
            _feature("district", d_code, d_zh, d_en, None, _union([s[3] for s in street_specs]))
        )
        for s_suffix, s_zh, s_en, s_rect in street_specs:
            s_code = d_code + s_suffix
            streets.append(_feature("street", s_code, s_zh, s_en, d_code, s_rect))
            s_short_en = s_en.removesuffix(" Subdistrict")
            for n, g_rect in enumerate(_split_2x2(s_rect), start=1):
                grids.append(
                    _feature(
                        "grid",
                        f"{s_code}G{n:02d}",
                        f"{s_zh}第{n}网格",
                        f"{s_short_en} Grid {n}",
                        s_code,
                        g_rect,
                    )
                )
    return {
        "type": "FeatureCollection",
        "name_zh": "示例市",
        "name_en": "Sample City",
        "features": districts + streets + grids,
    }


def render() -> str:
    """Serialised output, stable byte for byte so ``--check`` can compare it."""
    return json.dumps(build(), ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="do not write; exit 1 if the file is stale"
    )
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is stale: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
