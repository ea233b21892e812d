"""store part of raspisms-daemon."""
