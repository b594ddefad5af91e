"""Agencies' responses: activation, links, acknowledgements, declines and escalation."""
