"""Isolation and lockout (section 7): the point library, shared isolations, categories and personal locks."""
