"""Outgoing messages: queued in the outbox in the business transaction, sent after commit."""
