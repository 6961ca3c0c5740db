"""Risk scoring (RISK-01..03): derived from probability and severity, never supplied by a client."""

from __future__ import annotations

from enum import StrEnum


class RiskLevel(StrEnum):
    """Legacy bands of the 5x5 matrix, ordered from low to extreme."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    EXTREME = "extreme"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2, RiskLevel.EXTREME: 3}


def risk_score(probability: int, severity: int) -> int:
    """RISK-01: score = probability x severity."""
    return probability * severity


def risk_level(score: int) -> RiskLevel:
    """RISK-01: 1-4 low, 5-9 medium, 10-16 high, 20-25 extreme."""
    if score <= 4:
        return RiskLevel.LOW
    if score <= 9:
        return RiskLevel.MEDIUM
    if score <= 16:
        return RiskLevel.HIGH
    return RiskLevel.EXTREME


def effective_risk_level(assessed: RiskLevel, inherent: RiskLevel) -> RiskLevel:
    """RISK-03: the higher of the assessed level and the template's inherent level."""
    return assessed if assessed.rank >= inherent.rank else inherent
