"""TPL-05: an override may only tighten, unless the template lists the setting in `project_may_relax`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ptw_domain.templates.resolution import ResolvedTemplate


def _flag(before: bool, after: bool) -> bool:
    return before and not after


def _shorter(before: int | None, after: int | None) -> bool:
    """Loosening when the value grows (or a limit is removed)."""
    if before is None:
        return False
    return after is None or after > before


def _longer(before: int, after: int) -> bool:
    return after < before


def _dropped(before: Any, after: Any) -> bool:
    def required(items: Any) -> set[Any]:
        out: set[Any] = set()
        for item in items:
            if hasattr(item, "key"):
                if item.required:
                    out.add(item.key)
            else:
                out.add(str(item).strip().lower())
        return out

    return not required(before) <= required(after)


def _weaker_category(before: Any, after: Any) -> bool:
    if before is None:
        return False
    return after is None or after.strength < before.strength


def _weaker_risk(before: Any, after: Any) -> bool:
    return bool(after.rank < before.rank)


def _competencies_dropped(before: dict[str, list[str]], after: dict[str, list[str]]) -> bool:
    return any(not set(codes) <= set(after.get(role, [])) for role, codes in before.items())


def _closeout_dropped(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return any(_dropped(items, after.get(level, ())) for level, items in before.items())


_CHECKS: dict[str, Callable[[Any, Any], bool]] = {
    "requires_gas_testing": _flag,
    "periodic_gas_testing": _flag,
    "requires_fire_watch": _flag,
    "requires_structured_isolation": _flag,
    "requires_deisolation_on_closeout": _flag,
    "requires_toolbox_talk": _flag,
    "rebrief_on_resume": _flag,
    "requires_attendant": _flag,
    "requires_area_authority_signoff": _flag,
    "requires_presence_evidence": _flag,
    "validity_hours": _shorter,
    "max_extensions": _shorter,
    "max_total_validity_hours": _shorter,
    "start_window_hours": _shorter,
    "gas_validity_minutes": _shorter,
    "retest_interval_minutes": _shorter,
    "retest_grace_minutes": _shorter,
    "tbt_max_age_hours": _shorter,
    "fire_watch_minutes": _longer,
    "min_personnel": _longer,
    "min_isolation_category": _weaker_category,
    "inherent_risk_level": _weaker_risk,
    "mandatory_ppe": _dropped,
    "safety_checklist": _dropped,
    "closeout_checklists": _closeout_dropped,
    "required_competencies": _competencies_dropped,
}


def loosened_settings(base: ResolvedTemplate, overridden: ResolvedTemplate) -> list[str]:
    """Settings the override loosens that the template does not let projects relax (TPL-05)."""
    relaxable = set(base.project_may_relax)
    return [
        name
        for name, loosens in _CHECKS.items()
        if name not in relaxable and loosens(getattr(base, name), getattr(overridden, name))
    ]
