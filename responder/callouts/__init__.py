"""Call-out tests: does every number behind a playbook's roles still reach its holder?

``flask --app wsgi callout test LOCAL_AUTHORITY`` or the button at
``/admin/callouts`` texts every role holder in that playbook a test message
(responder.callouts.running); each confirms by link or reply code
(responder.callouts.confirmations); the report, its CSV, the directory's flags
and ``playbooks check --strict`` read the results (responder.callouts.results).

For other pages (the readiness page): :func:`contacts_not_confirmed` gives,
per local authority, who failed or never confirmed its last test and has not
confirmed since, as :class:`UnconfirmedContact` values; :func:`latest_tests`
and :func:`report` give the last test's results.
"""

from responder.callouts.results import (
    Report,
    RoleResult,
    Status,
    UnconfirmedContact,
    contacts_not_confirmed,
    flagged_contacts,
    latest_tests,
    report,
)
from responder.callouts.running import CalloutError, start_test

__all__ = [
    "CalloutError",
    "Report",
    "RoleResult",
    "Status",
    "UnconfirmedContact",
    "contacts_not_confirmed",
    "flagged_contacts",
    "latest_tests",
    "report",
    "start_test",
]
