"""The contact directory: the people behind the role keys playbooks name."""
