"""reports wing."""
