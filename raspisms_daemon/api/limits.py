"""Every bound the local API puts on a request and on its connections, and why. Pure: no I/O.

Requests (a larger one is refused with a 4xx naming the bound, never cut silently):

- ``MAX_BODY``: 1 MiB of body (413). A form of ``MAX_NUMBERS`` numbers with their data fits.
- ``MAX_NUMBERS``: 10 000 numbers in one scheduled SMS (400). At the default ``send_rate`` (6 a
  minute) that is a day of sending for one modem; a bigger campaign is several requests. RaspiSMS has no
  bound of its own, but PHP's ``max_input_vars`` (1000) silently drops what a form holds beyond 1000
  fields; a CSV file is bounded only by the upload size.
- ``MAX_FORM_FIELDS``: a ``numbers[i][number]`` and a ``numbers[i][data]`` for each number, and the other
  fields (400).
- ``MAX_DEPTH``: JSON, and form names such as ``a[b][c]``, nested at most 64 deep (PHP's
  ``max_input_nesting_level``); the API's own fields are at most 4 deep, the rest is room for the
  template data of a number (400).

Connections (:class:`ConnectionLimits`, enforced by :mod:`.guard`): at most ``max_connections`` at
once; each must send a complete request head within ``head_timeout`` of opening or of its previous
answer, and its body within ``body_timeout`` of the head (408). At the cap a new connection makes room
by closing the one idle the longest (:mod:`.connections`).

The descriptor budget: the unit keeps systemd's default ``LimitNOFILE=1024`` (libgammu waits on its
serial port with ``select()``, which cannot watch a descriptor above 1023), and the API holds at most a
quarter of the process's descriptors: ``max_connections`` (an eighth, at most 128) open, plus the
listen backlog (at most 32) that asyncio may accept in one go before the guard sees them. A small
backlog also means that a flood's later connections cannot push out a new one before its request is
read.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "MAX_BODY",
    "MAX_DEPTH",
    "MAX_FORM_FIELDS",
    "MAX_NUMBERS",
    "ConnectionLimits",
    "connection_cap",
]

MAX_BODY = 1024 * 1024
MAX_NUMBERS = 10_000
MAX_FORM_FIELDS = 2 * MAX_NUMBERS + 100
MAX_DEPTH = 64

MAX_CONNECTIONS = 128  # plenty for a local API: RaspiSMS clients, the CLI, a metrics scraper
MAX_BACKLOG = 32


def connection_cap(nofile: int, ceiling: int = MAX_CONNECTIONS) -> int:
    """The connection cap for a process allowed ``nofile`` descriptors: an eighth of them (the cap
    plus the listen backlog, a quarter), at most ``ceiling``, at least 4."""
    return max(4, min(ceiling, nofile // 8))


class ConnectionLimits(NamedTuple):
    max_connections: int = MAX_CONNECTIONS
    head_timeout: float = 15.0  # the request line and headers, from the connection or the last answer
    body_timeout: float = 30.0  # the whole body, from the end of the head
    sweep_every: float = 1.0  # how often idle connections are checked against head_timeout (real time)

    @property
    def backlog(self) -> int:
        """The listen backlog, which is also how many connections asyncio may accept in one go."""
        return min(self.max_connections, MAX_BACKLOG)
