"""webhooks part of raspisms-daemon."""
