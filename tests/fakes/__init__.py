"""Stand-ins for the edge of the world (remote services we do not run ourselves)."""
