"""Incidents: opening one, references, the lifecycle and what the pages show."""
