"""Information governance: the sharing record, the access log, retention."""
