"""The learning review of an incident and the figures it is built on."""
