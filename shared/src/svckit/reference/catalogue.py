"""The 数字城管 case catalogue (部件 / 事件, 大类 / 小类), loaded and validated.

Every service classifies, routes, times and closes cases by 小类 code, so a
bad catalogue would be wrong everywhere at once. Loading therefore validates
the whole file up front and reports *every* problem, each naming the entry it
is about (``minor C0101 (上水井盖): handling_hours ...``), instead of failing
later on the first lookup that happens to touch a broken entry.

The module is pure: it reads the one file it is given and nothing else, so
domain code and unit tests can use it freely.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, ValidationError

from svckit.reference.problems import ReferenceFileError

__all__ = [
    "Catalogue",
    "CatalogueError",
    "Category",
    "CategoryKind",
    "DepartmentType",
    "EvidenceKind",
    "MajorCategory",
    "UnknownCategoryError",
]


class CategoryKind(StrEnum):
    """部件 (a physical asset that is broken) versus 事件 (something that happened)."""

    COMPONENT = "component"
    EVENT = "event"

    @property
    def letter(self) -> str:
        """The code prefix, so a code alone tells which kind it is (C0101, E0401)."""
        return "C" if self is CategoryKind.COMPONENT else "E"

    @property
    def name_zh(self) -> str:
        return "部件" if self is CategoryKind.COMPONENT else "事件"


class DepartmentType(StrEnum):
    """Kinds of 责任单位; the responsibility matrix maps a kind + area to a real department.

    The catalogue names a *type* rather than a department because which 水务
    office is responsible depends on where the case is.
    """

    CITY_MANAGEMENT = "city_management"
    WATER = "water"
    GAS = "gas"
    HOUSING = "housing"
    TRANSPORT = "transport"
    GREENING = "greening"
    SANITATION = "sanitation"
    STREET_OFFICE = "street_office"

    @property
    def name_zh(self) -> str:
        return _DEPARTMENT_TYPE_NAMES_ZH[self]


_DEPARTMENT_TYPE_NAMES_ZH: dict[DepartmentType, str] = {
    DepartmentType.CITY_MANAGEMENT: "城管执法",
    DepartmentType.WATER: "水务",
    DepartmentType.GAS: "燃气",
    DepartmentType.HOUSING: "住建",
    DepartmentType.TRANSPORT: "交通",
    DepartmentType.GREENING: "园林绿化",
    DepartmentType.SANITATION: "环卫",
    DepartmentType.STREET_OFFICE: "街道办",
}


class EvidenceKind(StrEnum):
    """Evidence a department must attach when it reports a case done (反馈)."""

    BEFORE_PHOTO = "before_photo"
    AFTER_PHOTO = "after_photo"


NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class MajorCategory(BaseModel):
    """A 大类: groups 小类 for reporting and screens; cases never use it alone."""

    model_config = ConfigDict(frozen=True)

    kind: CategoryKind
    code: str
    name_zh: str
    name_en: str
    category_codes: tuple[str, ...]


class Category(BaseModel):
    """A 小类, the unit a case is classified, routed, timed and closed by.

    Flattened (it carries its 大类's code and names) so consumers need no
    second lookup to show or log it.
    """

    model_config = ConfigDict(frozen=True)

    code: str
    kind: CategoryKind
    major_code: str
    major_name_zh: str
    major_name_en: str
    name_zh: str
    name_en: str
    handling_hours: int = Field(gt=0, description="default 处置时限 in working hours")
    filing_criteria_zh: str
    filing_criteria_en: str
    closing_criteria_zh: str
    closing_criteria_en: str
    department_type: DepartmentType
    required_evidence: tuple[EvidenceKind, ...]


class CatalogueError(ReferenceFileError):
    """The catalogue file is unusable; ``problems`` lists each one, naming its entry."""

    kind = "catalogue"


class UnknownCategoryError(LookupError):
    """No 小类 has this code (e.g. a vendor map or message refers to a retired code)."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"unknown catalogue category code {code!r}")


# --- file schema -----------------------------------------------------------------
# Minors and majors are kept as raw mappings at the outer levels and validated one
# by one, so an error can name the entry (its code and name) rather than a list index.


class _MinorEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: NonEmptyStr
    name_zh: NonEmptyStr
    name_en: NonEmptyStr
    handling_hours: StrictInt = Field(gt=0)
    filing_criteria_zh: NonEmptyStr
    filing_criteria_en: NonEmptyStr
    closing_criteria_zh: NonEmptyStr
    closing_criteria_en: NonEmptyStr
    department_type: DepartmentType
    required_evidence: list[EvidenceKind]


class _MajorEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: NonEmptyStr
    name_zh: NonEmptyStr
    name_en: NonEmptyStr
    minors: list[Any] = Field(min_length=1)


class _KindSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name_zh: NonEmptyStr
    name_en: NonEmptyStr
    majors: list[Any] = Field(min_length=1)


class _CatalogueFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1]
    catalogue_version: NonEmptyStr
    kinds: dict[CategoryKind, _KindSection]


_MAJOR_CODE = re.compile(r"^[CE]\d{2}$")
_MINOR_CODE = re.compile(r"^[CE]\d{4}$")


def _format_validation_error(error: ValidationError) -> list[str]:
    """One line per field error, with the offending value, without pydantic's URLs."""
    lines = []
    for item in error.errors(include_url=False):
        loc = ".".join(str(p) for p in item["loc"]) or "(entry)"
        shown = "" if item["type"] == "missing" else f" (got {item['input']!r})"
        lines.append(f"{loc}: {item['msg']}{shown}")
    return lines


def _describe(raw: Any, what: str, where: str) -> str:
    """Name an entry by its code and Chinese name when it has them, else by position."""
    if isinstance(raw, Mapping):
        code, name = raw.get("code"), raw.get("name_zh")
        if isinstance(code, str) and code:
            return f"{what} {code}" + (f" ({name})" if isinstance(name, str) and name else "")
    return f"{what} at {where}"


class Catalogue:
    """All 小类 by code. Immutable after construction; cheap to share between tasks."""

    def __init__(
        self,
        categories: Iterable[Category],
        majors: Iterable[MajorCategory] = (),
        *,
        version: str = "",
        source: str = "<memory>",
    ) -> None:
        """Index the categories; rejects duplicate codes so ``get`` is unambiguous."""
        self._categories: tuple[Category, ...] = tuple(categories)
        self._majors: tuple[MajorCategory, ...] = tuple(majors)
        self.version = version
        self.source = source
        self._by_code: dict[str, Category] = {}
        duplicates = []
        for category in self._categories:
            if category.code in self._by_code:
                duplicates.append(f"minor {category.code} ({category.name_zh}): duplicate code")
            self._by_code[category.code] = category
        if duplicates:
            raise CatalogueError(source, duplicates)

    # --- loading -------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> Catalogue:
        """Read and validate a catalogue YAML file; raises ``CatalogueError`` listing problems."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise CatalogueError(str(path), [f"not valid YAML: {exc}"]) from exc
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "<memory>") -> Catalogue:
        """Validate an already-parsed catalogue document (the YAML structure as dicts)."""
        problems: list[str] = []
        try:
            document = _CatalogueFile.model_validate(data)
        except ValidationError as exc:
            raise CatalogueError(
                source, [f"top level: {line}" for line in _format_validation_error(exc)]
            ) from exc

        categories: list[Category] = []
        majors: list[MajorCategory] = []
        first_seen: dict[str, str] = {}  # code -> where its first entry is

        def claim(code: str, label: str, where: str) -> None:
            # Positions too: a copy-pasted entry has the same code *and* name as the original.
            if code in first_seen:
                problems.append(
                    f"{label}: duplicate code at {where}, already used at {first_seen[code]}"
                )
            else:
                first_seen[code] = f"{where} ({label})"

        for kind, section in document.kinds.items():
            for m_index, raw_major in enumerate(section.majors):
                m_where = f"kinds.{kind.value}.majors[{m_index}]"
                m_label = _describe(raw_major, "major", m_where)
                try:
                    major = _MajorEntry.model_validate(raw_major)
                except ValidationError as exc:
                    problems.extend(f"{m_label}: {e}" for e in _format_validation_error(exc))
                    continue
                if not _MAJOR_CODE.match(major.code) or major.code[0] != kind.letter:
                    problems.append(
                        f"{m_label}: code must be {kind.letter!r} + 2 digits for kind "
                        f"{kind.value!r} (got {major.code!r})"
                    )
                claim(major.code, m_label, m_where)

                codes: list[str] = []
                for c_index, raw_minor in enumerate(major.minors):
                    c_where = f"{m_where}.minors[{c_index}]"
                    c_label = _describe(raw_minor, "minor", c_where)
                    try:
                        minor = _MinorEntry.model_validate(raw_minor)
                    except ValidationError as exc:
                        problems.extend(f"{c_label}: {e}" for e in _format_validation_error(exc))
                        continue
                    if not _MINOR_CODE.match(minor.code) or not minor.code.startswith(major.code):
                        problems.append(
                            f"{c_label}: code must be its major's code {major.code!r} + 2 digits "
                            f"(got {minor.code!r})"
                        )
                    if len(set(minor.required_evidence)) != len(minor.required_evidence):
                        problems.append(f"{c_label}: required_evidence lists an item twice")
                    claim(minor.code, c_label, c_where)
                    codes.append(minor.code)
                    categories.append(
                        Category(
                            code=minor.code,
                            kind=kind,
                            major_code=major.code,
                            major_name_zh=major.name_zh,
                            major_name_en=major.name_en,
                            name_zh=minor.name_zh,
                            name_en=minor.name_en,
                            handling_hours=minor.handling_hours,
                            filing_criteria_zh=minor.filing_criteria_zh,
                            filing_criteria_en=minor.filing_criteria_en,
                            closing_criteria_zh=minor.closing_criteria_zh,
                            closing_criteria_en=minor.closing_criteria_en,
                            department_type=minor.department_type,
                            required_evidence=tuple(minor.required_evidence),
                        )
                    )
                majors.append(
                    MajorCategory(
                        kind=kind,
                        code=major.code,
                        name_zh=major.name_zh,
                        name_en=major.name_en,
                        category_codes=tuple(codes),
                    )
                )

        if not categories and not problems:
            problems.append("top level: the catalogue has no categories")
        if problems:
            raise CatalogueError(source, problems)
        return cls(categories, majors, version=document.catalogue_version, source=source)

    # --- queries -------------------------------------------------------------------

    def get(self, code: str) -> Category:
        """The 小类 with this code; raises ``UnknownCategoryError`` (not ``KeyError``)."""
        try:
            return self._by_code[code]
        except KeyError:
            raise UnknownCategoryError(code) from None

    def find(self, code: str) -> Category | None:
        """Like ``get`` but ``None`` for unknown codes, for callers that branch on it."""
        return self._by_code.get(code)

    @property
    def categories(self) -> tuple[Category, ...]:
        """Every 小类, in file order (components first in the shipped file)."""
        return self._categories

    @property
    def majors(self) -> tuple[MajorCategory, ...]:
        """Every 大类, in file order."""
        return self._majors

    def by_kind(self, kind: CategoryKind) -> tuple[Category, ...]:
        """The 部件 or the 事件 小类 only (e.g. for a pick list)."""
        return tuple(c for c in self._categories if c.kind is kind)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __iter__(self) -> Iterator[Category]:
        return iter(self._categories)

    def __len__(self) -> int:
        return len(self._categories)

    def __repr__(self) -> str:
        return (
            f"Catalogue(version={self.version!r}, categories={len(self)}, source={self.source!r})"
        )
