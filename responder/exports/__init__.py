"""After-action review exports: the chronology (CSV), the whole incident (JSON), the report (PDF).

Every export comes in two variants: full, for the core partnership, and
redacted (responder.exports.redaction), for sharing beyond it. Producing
either is recorded on the incident's timeline (responder.exports.audit).
"""
