"""People on permits (section 5): the worker registry, competencies, assignment, briefings, the confined-space
roster and the fire watch."""
