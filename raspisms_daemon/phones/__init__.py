"""phones part of raspisms-daemon."""
