"""dockerfile wing."""
