"""Staff accounts and API tokens."""
