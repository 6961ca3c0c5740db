"""TPL-02/03: resolve built-in definition -> template version -> project override into typed settings."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec

from ptw_domain.canonical import sha256_hex
from ptw_domain.risk import RiskLevel
from ptw_domain.templates.checklist import ChecklistItem, normalise_checklist
from ptw_domain.templates.merge import deep_merge
from ptw_domain.templates.settings import Category, IsolationCategory, builtin_definition


class ResolvedTemplate(msgspec.Struct, frozen=True, kw_only=True):
    """Every template setting of section 3, after resolution; defaults are the table's."""

    key: str
    category: Category
    name: str = ""
    description: str = ""
    colour: str = ""
    inherent_risk_level: RiskLevel = RiskLevel.LOW
    validity_hours: int = 12
    max_extensions: int = 2
    max_total_validity_hours: int = 168
    start_window_hours: int | None = 2
    early_activation_minutes: int = 60
    requires_gas_testing: bool = False
    gas_limit_profile: str = "osha-default"
    gas_validity_minutes: int = 60
    periodic_gas_testing: bool = False
    retest_interval_minutes: int = 180
    retest_grace_minutes: int = 15
    requires_fire_watch: bool = False
    fire_watch_minutes: int = 30
    requires_structured_isolation: bool = False
    min_isolation_category: IsolationCategory | None = None
    requires_deisolation_on_closeout: bool = False
    requires_toolbox_talk: bool = True
    tbt_max_age_hours: int = 12
    rebrief_on_resume: bool = True
    required_competencies: dict[str, list[str]] = msgspec.field(default_factory=dict)
    min_personnel: int = 1
    requires_attendant: bool = False
    requires_area_authority_signoff: bool = False
    requires_presence_evidence: bool = True
    mandatory_ppe: list[str] = msgspec.field(default_factory=list)
    safety_checklist: tuple[ChecklistItem, ...] = ()
    closeout_checklists: dict[str, tuple[ChecklistItem, ...]] = msgspec.field(default_factory=dict)
    verification_sla_hours: int = 4
    approval_sla_hours: int = 4
    project_may_relax: list[str] = msgspec.field(default_factory=list)
    allow_overrides: bool = True
    form_sections: tuple[ChecklistItem, ...] = ()

    def closeout_checklist(self, risk: RiskLevel) -> tuple[ChecklistItem, ...]:
        """TPL-10: the checklist for the effective risk level, else the "any" checklist, else none."""
        return self.closeout_checklists.get(risk.value) or self.closeout_checklists.get("any") or ()


class TemplateRef(msgspec.Struct, frozen=True, kw_only=True):
    """TPL-02: what a permit pins at creation."""

    template_id: UUID
    key: str
    version: int
    override_version: int | None
    hash: str


def merged_definition(definition: dict[str, Any], override_patch: dict[str, Any] | None) -> dict[str, Any]:
    """The raw resolved mapping (before typing): built-in, then template, then the override (TPL-03/04)."""
    category = Category(definition["category"])
    base = builtin_definition(category)
    if definition.get("form_sections"):
        base = {k: v for k, v in base.items() if k != "form_sections"}
    merged = deep_merge(base, definition)
    if override_patch and merged.get("allow_overrides", True):
        merged = deep_merge(merged, override_patch)
    return merged


def _typed(merged: dict[str, Any]) -> ResolvedTemplate:
    data = dict(merged)
    for field in ("safety_checklist", "form_sections"):
        data[field] = [msgspec.structs.asdict(i) for i in normalise_checklist(data.get(field))]
    data["closeout_checklists"] = {
        level: [msgspec.structs.asdict(i) for i in normalise_checklist(items)]
        for level, items in (data.get("closeout_checklists") or {}).items()
    }
    known = set(ResolvedTemplate.__struct_fields__)
    return msgspec.convert({k: v for k, v in data.items() if k in known}, ResolvedTemplate)


def resolve_template(
    definition: dict[str, Any], override_patch: dict[str, Any] | None = None
) -> tuple[ResolvedTemplate, str]:
    """Resolve and type a definition; returns the settings and the SHA-256 of the resolved mapping."""
    merged = merged_definition(definition, override_patch)
    return _typed(merged), sha256_hex(merged)


def validate_definition(definition: dict[str, Any]) -> ResolvedTemplate:
    """Type-check a definition as it would resolve; raises msgspec.ValidationError naming the field."""
    if "category" not in definition:
        raise msgspec.ValidationError("Object missing required field `category`")
    if "key" not in definition:
        raise msgspec.ValidationError("Object missing required field `key`")
    Category(definition["category"])
    return _typed(merged_definition(definition, None))
