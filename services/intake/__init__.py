"""Intake: the front door. Reads contacts, rejects what cannot be used with
reasons a referrer can act on, opens a case and asks every agency."""
