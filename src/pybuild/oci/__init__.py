"""oci wing."""
