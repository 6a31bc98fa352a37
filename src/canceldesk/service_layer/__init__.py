"""Use-case handlers. Only handlers commit, through the unit of work."""
