"""Table models over snapshot arrays."""
