"""gsm part of raspisms-daemon."""
