"""build wing."""
