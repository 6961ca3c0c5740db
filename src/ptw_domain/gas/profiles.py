"""Gas limit profiles (GAS-05, GAS-14): versioned, with the built-in `osha-default` v1 of section 6."""

from __future__ import annotations

import msgspec

PERCENT = "%vol"
PERCENT_LEL = "%LEL"
PPM = "ppm"
UNIT_RANGES = {PERCENT: 100.0, PERCENT_LEL: 100.0, PPM: 100_000.0}  # GAS-14

OXYGEN, FLAMMABLES = "O2", "LEL"


class GasLimit(msgspec.Struct, frozen=True, kw_only=True):
    """Pass means low <= x (<= or <) high; a bound may be absent."""

    unit: str
    low: float | None = None
    high: float | None = None
    high_inclusive: bool = False
    source: str = ""

    def passes(self, value: float) -> bool:
        if self.low is not None and value < self.low:
            return False
        if self.high is None:
            return True
        return value <= self.high if self.high_inclusive else value < self.high


class GasLimitProfile(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    version: int
    limits: dict[str, GasLimit]
    required: tuple[str, ...] = (OXYGEN, FLAMMABLES, "H2S", "CO")  # GAS-06 default session
    confined_hot_work_lel: GasLimit = GasLimit(
        unit=PERCENT_LEL, high=0.0, high_inclusive=True, source="practice"
    )


OSHA_DEFAULT = GasLimitProfile(
    key="osha-default",
    version=1,
    limits={
        OXYGEN: GasLimit(unit=PERCENT, low=19.5, high=23.5, high_inclusive=True, source="OSHA 1910.146(b)"),
        FLAMMABLES: GasLimit(unit=PERCENT_LEL, high=10.0, source="OSHA 1910.146(b)"),
        "H2S": GasLimit(unit=PPM, high=10.0, source="OSHA PEL 10 ppm; NIOSH REL ceiling 10 ppm"),
        "CO": GasLimit(unit=PPM, high=50.0, source="OSHA PEL 50 ppm, 29 CFR 1910.1000 Table Z-1"),
        "NH3": GasLimit(unit=PPM, high=50.0, source="OSHA 1910.1000 Table Z-1"),
        "SO2": GasLimit(unit=PPM, high=5.0, source="OSHA 1910.1000 Table Z-1"),
        "Cl2": GasLimit(unit=PPM, high=1.0, source="OSHA 1910.1000 Table Z-1"),
        "CO2": GasLimit(unit=PPM, high=5000.0, source="OSHA 1910.1000 Table Z-1"),
    },
)


def order_rank(gas: str) -> int:
    """GAS-03: oxygen, then flammables, then toxics."""
    return {OXYGEN: 0, FLAMMABLES: 1}.get(gas, 2)
