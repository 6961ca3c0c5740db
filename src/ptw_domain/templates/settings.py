"""Template settings: the category defaults table and the built-in minimal definition (section 3, TPL-11)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Category(StrEnum):
    HOT_WORK = "hot_work"
    CONFINED_SPACE = "confined_space"
    ELECTRICAL = "electrical"
    LINE_BREAK = "line_break"
    CHEMICAL = "chemical"
    PRESSURE_TESTING = "pressure_testing"
    EXCAVATION = "excavation"
    LIFTING = "lifting"
    WORK_AT_HEIGHT = "work_at_height"
    RADIOGRAPHY = "radiography"
    COLD_WORK = "cold_work"


class IsolationCategory(StrEnum):
    """ISO-08: I (positive) ranks over II (proved) over III (non-proved)."""

    I = "I"  # noqa: E741 - the category's name in HSG253
    II = "II"
    III = "III"

    @property
    def strength(self) -> int:
        return {"I": 3, "II": 2, "III": 1}[self.value]


def _row(
    gas: bool,
    periodic: bool,
    fire_watch: bool,
    isolation: bool,
    deisolate: bool,
    min_category: str | None,
    attendant: bool,
) -> dict[str, Any]:
    return {
        "requires_gas_testing": gas,
        "periodic_gas_testing": periodic,
        "requires_fire_watch": fire_watch,
        "requires_structured_isolation": isolation,
        "requires_deisolation_on_closeout": deisolate,
        "min_isolation_category": min_category,
        "requires_attendant": attendant,
    }


_PLAIN = _row(False, False, False, False, False, None, False)

CATEGORY_DEFAULTS: dict[Category, dict[str, Any]] = {
    Category.HOT_WORK: _row(True, False, True, False, False, None, False),
    Category.CONFINED_SPACE: _row(True, True, False, True, True, "I", True),
    Category.ELECTRICAL: _row(False, False, False, True, True, "II", False),
    Category.LINE_BREAK: _row(True, False, False, True, True, "II", False),
    Category.CHEMICAL: _row(True, False, False, True, True, "II", False),
    Category.PRESSURE_TESTING: _row(False, False, False, True, True, "II", False),
    Category.EXCAVATION: _PLAIN,
    Category.LIFTING: _PLAIN,
    Category.WORK_AT_HEIGHT: _PLAIN,
    Category.RADIOGRAPHY: _PLAIN,
    Category.COLD_WORK: _PLAIN,
}

CATEGORY_COMPETENCIES: dict[Category, dict[str, list[str]]] = {
    Category.HOT_WORK: {"crew": ["hot_work"], "fire_watch": ["fire_watch"]},
    Category.CONFINED_SPACE: {
        "entrant": ["confined_space_entry"],
        "attendant": ["confined_space_attendant"],
    },
    Category.ELECTRICAL: {"crew": ["electrical_authorised"]},
}


def builtin_definition(category: Category) -> dict[str, Any]:
    """TPL-11: required sections for general requirements, authorisation, emergency arrangements, the
    category, and sections switched on by flags; plus the category's defaults."""
    flags = CATEGORY_DEFAULTS[category]
    sections = [
        {"key": "general_requirements", "label": "General requirements", "required": True},
        {"key": "authorisation", "label": "Authorisation", "required": True},
        {"key": "emergency_arrangements", "label": "Emergency arrangements", "required": True},
        {"key": category.value, "label": category.value.replace("_", " ").capitalize(), "required": True},
    ]
    for flag, key, label in (
        ("requires_gas_testing", "gas_testing", "Gas testing"),
        ("requires_structured_isolation", "isolation", "Isolation"),
        ("requires_fire_watch", "fire_watch", "Fire watch"),
    ):
        if flags[flag]:
            sections.append({"key": key, "label": label, "required": True})
    return {
        "category": category.value,
        **flags,
        "required_competencies": CATEGORY_COMPETENCIES.get(category, {}),
        "form_sections": sections,
    }
