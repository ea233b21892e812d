"""One module per command group; each exposes ``register(subparsers)`` and sets ``func`` on its parsers.

``func(args)`` returns the process exit status.
"""
