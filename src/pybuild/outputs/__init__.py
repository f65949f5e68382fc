"""outputs wing."""
