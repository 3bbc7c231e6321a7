"""Unit tests for svckit.reference: the shipped catalogue and city map, and their validation.

Only the shipped files and pytest's tmp files are read; nothing else is touched.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from svckit.reference import (
    CONFIG_DIR_ENV,
    AreaLevel,
    Catalogue,
    CatalogueError,
    CategoryKind,
    CityMap,
    CityMapError,
    DepartmentType,
    EvidenceKind,
    Location,
    UnknownAreaError,
    UnknownCategoryError,
    default_catalogue_path,
    default_city_map_path,
    default_config_dir,
)

# --- fixtures --------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalogue_doc() -> dict[str, Any]:
    """The shipped catalogue as plain data, to mutate into invalid variants."""
    data: dict[str, Any] = yaml.safe_load(default_catalogue_path().read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.load(default_catalogue_path())


@pytest.fixture(scope="module")
def city_doc() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(default_city_map_path().read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def city_map() -> CityMap:
    return CityMap.load(default_city_map_path())


def _write_yaml(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _write_json(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "city.geojson"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _minor(doc: dict[str, Any], code: str) -> dict[str, Any]:
    """The raw entry for a 小类 code inside a (copied) catalogue document."""
    for section in doc["kinds"].values():
        for major in section["majors"]:
            for minor in major["minors"]:
                if minor["code"] == code:
                    return minor  # type: ignore[no-any-return]
    raise AssertionError(f"{code} not in document")


def _feature(doc: dict[str, Any], code: str) -> dict[str, Any]:
    for feature in doc["features"]:
        if feature["properties"]["code"] == code:
            return feature  # type: ignore[no-any-return]
    raise AssertionError(f"{code} not in document")


# --- config dir ------------------------------------------------------------------


def test_default_config_dir_is_the_repository_config() -> None:
    config = default_config_dir()
    assert config.name == "config"
    assert (config / "catalogue" / "catalogue.yaml").is_file()
    assert (config / "geography" / "sample-city.geojson").is_file()


def test_default_config_dir_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path))
    assert default_config_dir() == tmp_path.resolve()
    assert default_catalogue_path() == tmp_path.resolve() / "catalogue" / "catalogue.yaml"


# --- shipped catalogue -----------------------------------------------------------


def test_shipped_catalogue_loads_with_both_kinds(catalogue: Catalogue) -> None:
    assert 35 <= len(catalogue.categories) <= 60
    components = catalogue.by_kind(CategoryKind.COMPONENT)
    events = catalogue.by_kind(CategoryKind.EVENT)
    assert len(components) + len(events) == len(catalogue)
    majors_by_kind = {
        kind: {m.name_zh for m in catalogue.majors if m.kind is kind} for kind in CategoryKind
    }
    assert {"公用设施", "道路交通", "市容环境", "园林绿化", "房屋土地"} <= majors_by_kind[
        CategoryKind.COMPONENT
    ]
    assert {"市容环境", "宣传广告", "施工管理", "突发事件", "街面秩序"} <= majors_by_kind[
        CategoryKind.EVENT
    ]


def test_shipped_catalogue_codes_follow_the_scheme(catalogue: Catalogue) -> None:
    for category in catalogue.categories:
        assert re.fullmatch(r"[CE]\d{4}", category.code)
        assert category.code[0] == category.kind.letter
        assert category.code.startswith(category.major_code)
        assert category.handling_hours > 0
        assert category.name_zh and category.name_en
        assert category.closing_criteria_zh and category.closing_criteria_en
    for major in catalogue.majors:
        assert all(catalogue.get(code).major_code == major.code for code in major.category_codes)


@pytest.mark.parametrize(
    ("code", "name_zh", "department"),
    [
        ("C0101", "上水井盖", DepartmentType.WATER),
        ("C0103", "雨水井盖", DepartmentType.WATER),
        ("C0105", "燃气井盖", DepartmentType.GAS),
        ("E0101", "暴露垃圾", DepartmentType.SANITATION),
        ("E0102", "积存垃圾渣土", DepartmentType.SANITATION),
        ("E0105", "道路破损", DepartmentType.TRANSPORT),
        ("E0401", "路面塌陷", DepartmentType.HOUSING),
        ("E0402", "自来水管破裂", DepartmentType.WATER),
        ("E0403", "燃气管道泄漏", DepartmentType.GAS),
        ("E0404", "道路积水", DepartmentType.WATER),
        ("E0501", "占道经营", DepartmentType.CITY_MANAGEMENT),
        ("E0502", "无照经营游商", DepartmentType.CITY_MANAGEMENT),
    ],
)
def test_codes_other_services_rely_on(
    catalogue: Catalogue, code: str, name_zh: str, department: DepartmentType
) -> None:
    category = catalogue.get(code)
    assert category.name_zh == name_zh
    assert category.department_type is department
    assert code in catalogue


def test_category_is_flattened_with_its_major(catalogue: Catalogue) -> None:
    leak = catalogue.get("E0403")
    assert leak.kind is CategoryKind.EVENT
    assert (leak.major_code, leak.major_name_zh, leak.major_name_en) == (
        "E04",
        "突发事件",
        "Emergencies",
    )
    assert leak.required_evidence == (EvidenceKind.BEFORE_PHOTO, EvidenceKind.AFTER_PHOTO)
    assert leak.department_type.name_zh == "燃气"


def test_unknown_code_raises_unknown_category_error_not_key_error(catalogue: Catalogue) -> None:
    with pytest.raises(UnknownCategoryError) as caught:
        catalogue.get("X9999")
    assert not isinstance(caught.value, KeyError)
    assert caught.value.code == "X9999"
    assert catalogue.find("X9999") is None


# --- invalid catalogues -----------------------------------------------------------


def test_duplicate_code_is_rejected_naming_both_entries(
    catalogue_doc: dict[str, Any], tmp_path: Path
) -> None:
    doc = copy.deepcopy(catalogue_doc)
    section = doc["kinds"]["component"]["majors"][0]["minors"]
    clone = copy.deepcopy(_minor(doc, "C0101"))
    clone["name_zh"] = "重复井盖"
    section.append(clone)
    with pytest.raises(CatalogueError) as caught:
        Catalogue.load(_write_yaml(tmp_path, doc))
    message = str(caught.value)
    assert "C0101" in message and "duplicate" in message
    assert "重复井盖" in message and "上水井盖" in message


def test_unknown_department_type_is_rejected_naming_the_entry(
    catalogue_doc: dict[str, Any], tmp_path: Path
) -> None:
    doc = copy.deepcopy(catalogue_doc)
    _minor(doc, "E0402")["department_type"] = "plumbers"
    with pytest.raises(CatalogueError) as caught:
        Catalogue.load(_write_yaml(tmp_path, doc))
    (problem,) = caught.value.problems
    assert problem.startswith("minor E0402 (自来水管破裂): department_type")
    assert "plumbers" in problem


@pytest.mark.parametrize("hours", [0, -4])
def test_non_positive_handling_hours_are_rejected_naming_the_entry(
    catalogue_doc: dict[str, Any], tmp_path: Path, hours: int
) -> None:
    doc = copy.deepcopy(catalogue_doc)
    _minor(doc, "E0101")["handling_hours"] = hours
    with pytest.raises(CatalogueError) as caught:
        Catalogue.load(_write_yaml(tmp_path, doc))
    (problem,) = caught.value.problems
    assert problem.startswith("minor E0101 (暴露垃圾): handling_hours")
    assert "greater than 0" in problem


def test_code_outside_its_major_or_kind_is_rejected(
    catalogue_doc: dict[str, Any], tmp_path: Path
) -> None:
    doc = copy.deepcopy(catalogue_doc)
    _minor(doc, "E0501")["code"] = "E0999"  # under major E05
    doc["kinds"]["event"]["majors"][0]["code"] = "C77"  # an event major with a component letter
    with pytest.raises(CatalogueError) as caught:
        Catalogue.load(_write_yaml(tmp_path, doc))
    problems = caught.value.problems
    assert any(p.startswith("minor E0999 (占道经营): code must be") for p in problems)
    assert any(p.startswith("major C77 (市容环境): code must be 'E'") for p in problems)


def test_all_problems_are_reported_at_once(catalogue_doc: dict[str, Any], tmp_path: Path) -> None:
    doc = copy.deepcopy(catalogue_doc)
    _minor(doc, "C0101")["handling_hours"] = 0
    _minor(doc, "C0105")["department_type"] = "gas_company"
    del _minor(doc, "E0404")["closing_criteria_en"]
    with pytest.raises(CatalogueError) as caught:
        Catalogue.load(_write_yaml(tmp_path, doc))
    named = {p.split(":")[0] for p in caught.value.problems}
    assert named == {"minor C0101 (上水井盖)", "minor C0105 (燃气井盖)", "minor E0404 (道路积水)"}


def test_malformed_yaml_is_a_catalogue_error(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text("kinds: [unclosed", encoding="utf-8")
    with pytest.raises(CatalogueError, match="not valid YAML"):
        Catalogue.load(path)


# --- shipped city map -------------------------------------------------------------


def test_shipped_city_loads(city_map: CityMap) -> None:
    assert (city_map.name_zh, city_map.name_en) == ("示例市", "Sample City")
    assert [d.code for d in city_map.districts] == ["D01", "D02", "D03"]
    assert [d.name_zh for d in city_map.districts] == ["东湖区", "西城区", "南港区"]
    assert len(city_map.streets) == 6
    assert len(city_map.grids) == 24
    assert all(len(city_map.children(s.code)) == 4 for s in city_map.streets)
    assert city_map.area("D01S01G01").level is AreaLevel.GRID
    bounds = city_map.bounds
    assert (bounds.min_longitude, bounds.max_longitude) == (121.40, 121.55)
    assert (bounds.min_latitude, bounds.max_latitude) == (31.18, 31.30)


def test_locate_point_in_a_known_grid(city_map: CityMap) -> None:
    # D01S01G01 is the south-west quarter of 湖滨街道: lon 121.475-121.5125, lat 31.22-31.24.
    assert city_map.locate(31.23, 121.49) == Location(
        district_code="D01", street_code="D01S01", grid_code="D01S01G01"
    )
    # D02S02G04 is the north-east quarter of 长乐街道: lon 121.4375-121.475, lat 31.28-31.30.
    assert city_map.locate(31.29, 121.46) == Location(
        district_code="D02", street_code="D02S02", grid_code="D02S02G04"
    )


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [(31.10, 121.45), (31.25, 121.60), (31.31, 121.50), (0.0, 0.0), (-31.25, -121.47)],
)
def test_locate_outside_the_city_is_none(
    city_map: CityMap, latitude: float, longitude: float
) -> None:
    assert city_map.locate(latitude, longitude) is None


def test_every_grid_locates_its_own_centre(city_map: CityMap, city_doc: dict[str, Any]) -> None:
    for grid in city_map.grids:
        street = city_map.area(grid.parent_code or "")
        centre = _grid_centre(city_doc, grid.code)
        assert city_map.locate(*centre) == Location(
            district_code=street.parent_code or "", street_code=street.code, grid_code=grid.code
        )


def test_point_on_a_shared_border_has_one_deterministic_grid(city_map: CityMap) -> None:
    # The corner where D01S01G01/G02/G03/G04 meet.
    assert city_map.locate(31.24, 121.5125) == Location(
        district_code="D01", street_code="D01S01", grid_code="D01S01G01"
    )


def test_locate_rejects_non_finite_input(city_map: CityMap) -> None:
    with pytest.raises(ValueError, match="finite"):
        city_map.locate(float("nan"), 121.5)


def test_random_point_is_inside_the_requested_district_and_reproducible(
    city_map: CityMap,
) -> None:
    points = [city_map.random_point(random.Random(7), "D03") for _ in range(2)]
    assert points[0] == points[1]
    rng = random.Random(42)
    for _ in range(200):
        location = city_map.locate(*city_map.random_point(rng, "D03"))
        assert location is not None and location.district_code == "D03"
    seen = {city_map.locate(*city_map.random_point(rng)) for _ in range(400)}
    assert {loc.district_code for loc in seen if loc} == {"D01", "D02", "D03"}


def test_random_point_unknown_district(city_map: CityMap) -> None:
    with pytest.raises(UnknownAreaError):
        city_map.random_point(random.Random(1), "D01S01")


def test_unknown_area_code(city_map: CityMap) -> None:
    with pytest.raises(UnknownAreaError) as caught:
        city_map.area("D99")
    assert caught.value.code == "D99"


def test_committed_geojson_is_what_the_generator_produces() -> None:
    script = default_config_dir() / "geography" / "make_sample_city.py"
    spec = importlib.util.spec_from_file_location("make_sample_city", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == default_city_map_path().read_text(encoding="utf-8")


# --- invalid city maps ------------------------------------------------------------


def test_orphan_street_is_rejected_naming_it(city_doc: dict[str, Any], tmp_path: Path) -> None:
    doc = copy.deepcopy(city_doc)
    _feature(doc, "D02S01")["properties"]["parent_code"] = "D09"
    with pytest.raises(CityMapError) as caught:
        CityMap.load(_write_json(tmp_path, doc))
    assert "street D02S01 (西门街道): parent 'D09' does not exist" in caught.value.problems


def test_grid_outside_its_street_is_rejected(city_doc: dict[str, Any], tmp_path: Path) -> None:
    doc = copy.deepcopy(city_doc)
    # Re-parent a 东湖区 grid to a 西城区 street: geometry no longer inside its parent.
    _feature(doc, "D01S01G01")["properties"]["parent_code"] = "D02S01"
    with pytest.raises(CityMapError) as caught:
        CityMap.load(_write_json(tmp_path, doc))
    assert any(
        p.startswith("grid D01S01G01 (湖滨街道第1网格): lies (partly) outside its parent street")
        for p in caught.value.problems
    )


def test_overlapping_grids_and_duplicate_codes_are_rejected(
    city_doc: dict[str, Any], tmp_path: Path
) -> None:
    doc = copy.deepcopy(city_doc)
    g2 = _feature(doc, "D03S01G02")
    g2["geometry"] = copy.deepcopy(_feature(doc, "D03S01G01")["geometry"])
    doc["features"].append(copy.deepcopy(_feature(doc, "D01")))
    with pytest.raises(CityMapError) as caught:
        CityMap.load(_write_json(tmp_path, doc))
    problems = caught.value.problems
    assert any("grid D03S01G01" in p and "overlaps grid D03S01G02" in p for p in problems)
    assert any(p.startswith("district D01 (东湖区): duplicate code") for p in problems)


def test_bad_properties_and_geometry_name_the_feature(
    city_doc: dict[str, Any], tmp_path: Path
) -> None:
    doc = copy.deepcopy(city_doc)
    _feature(doc, "D02S02G03")["properties"]["level"] = "county"
    _feature(doc, "D02S02G04")["geometry"] = {"type": "Point", "coordinates": [121.46, 31.29]}
    with pytest.raises(CityMapError) as caught:
        CityMap.load(_write_json(tmp_path, doc))
    problems = caught.value.problems
    assert any("(county D02S02G03): level" in p for p in problems)
    assert any(p.startswith("grid D02S02G04") and "Polygon" in p for p in problems)


# --- helpers ----------------------------------------------------------------------


def _grid_centre(doc: dict[str, Any], code: str) -> tuple[float, float]:
    """Centre of a (rectangular) sample grid as (latitude, longitude), from the GeoJSON."""
    ring = _feature(doc, code)["geometry"]["coordinates"][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2
