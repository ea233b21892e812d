"""api part of raspisms-daemon."""
