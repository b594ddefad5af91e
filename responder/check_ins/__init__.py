"""Check-ins: asking covering agencies how the response is going, and their answers."""
