"""The permit aggregate: content, state, evolve, readiness and the decision handlers."""
