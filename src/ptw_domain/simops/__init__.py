"""Simultaneous operations (section 8): footprints in a project register, conflicts by rule, decisions."""
