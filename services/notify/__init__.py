"""Notify: routes each decision to the team that acts on it and tells the
referrer what was decided."""
