"""Permit types: versioned templates, per-project overrides, resolution and the category defaults (TPL)."""

from ptw_domain.templates.checklist import ChecklistItem, normalise_checklist
from ptw_domain.templates.merge import deep_merge
from ptw_domain.templates.resolution import ResolvedTemplate, TemplateRef, resolve_template
from ptw_domain.templates.settings import CATEGORY_DEFAULTS, Category, IsolationCategory
from ptw_domain.templates.tightening import loosened_settings

__all__ = [
    "CATEGORY_DEFAULTS",
    "Category",
    "ChecklistItem",
    "IsolationCategory",
    "ResolvedTemplate",
    "TemplateRef",
    "deep_merge",
    "loosened_settings",
    "normalise_checklist",
    "resolve_template",
]
