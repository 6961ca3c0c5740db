"""Shift handover (section 4.9): handovers at project shift boundaries, their acknowledgement by the incoming
person, the missed-handover time fact and the resume guard it raises (HOV-01..04, SOD-07)."""
