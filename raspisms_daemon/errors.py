"""Every exception the daemon raises on purpose, in one tree.

    RaspismsError
    ├── ConfigError            invalid configuration; carries one Problem per bad key (exit 78)
    ├── PduError               a PDU that cannot be decoded or a text that cannot be encoded
    ├── AtProtocolError        bytes on the serial line that break the AT dialogue
    ├── ModemError             the modem answered and refused (it is there, and it said no)
    │   ├── CmsError           +CMS ERROR: <code> (message service), with .code
    │   ├── CmeError           +CME ERROR: <code> (equipment), with .code
    │   └── NoMoreEntries      (gsm/gammu_worker.py) the end of a libgammu GetNext* walk
    ├── LinkError              the link to the modem failed: no answer, so nothing was refused
    │   ├── ModemTimeout       no final result code in time (the command may have been carried out)
    │   └── ModemGone          the device vanished (unplugged) or the link closed
    ├── StoreError             the SQLite store refused an operation (bad id, wrong state)
    ├── StorageFault           (store/faults.py) the database file cannot be used: disk full, corrupt,
    │                          deleted, in use by another daemon … (transient → degraded, else exit 78)
    ├── DeliveryError          a webhook URL or delivery that cannot be accepted
    ├── SimulatorError         (simulator/modem.py) a request the virtual modem cannot carry out
    └── ControlError           (simulator/control.py) the simulator's control socket failed

StorageFault and the last three live next to the code that raises them, as their use is local to it.
Outside the tree, on purpose: ``api.envelope.ApiError`` (an HTTP answer, turned into a 4xx envelope by
the API's middleware) and ``commands.send.ApiClientError`` (the CLI could not reach the daemon: exit
69). A refusal and a link failure call for different answers (a refusal is final for that command; after
a link failure the modem may have done it, and the link is rebuilt), so they are two branches: code that
treats both alike catches ``(ModemError, LinkError)``.

Programming errors (a bad argument to a pure function) stay ``ValueError``/``RuntimeError``.

Low-level exceptions (OSError, serial.SerialException, gammu.GSMError, aiohttp.ClientError,
sqlite3.Error) are translated into these at each layer boundary with ``raise … from exc``.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "SIM_LOCK_CODES",
    "AtProtocolError",
    "CmeError",
    "CmsError",
    "ConfigError",
    "DeliveryError",
    "LinkError",
    "ModemError",
    "ModemGone",
    "ModemTimeout",
    "PduError",
    "Problem",
    "RaspismsError",
    "StoreError",
]


class RaspismsError(Exception):
    """Base of every error raised on purpose by raspisms-daemon."""


class Problem(NamedTuple):
    """One thing wrong with the configuration: where, and what."""

    section: str
    key: str | None
    message: str

    def __str__(self) -> str:
        where = f"[{self.section}]" + (f" {self.key}" if self.key else "")
        return f"{where}: {self.message}"


class ConfigError(RaspismsError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class PduError(RaspismsError):
    """A PDU that cannot be decoded, or a text/number that cannot be encoded."""


class AtProtocolError(RaspismsError):
    """The AT byte stream broke the protocol (e.g. an over-long line)."""


class ModemError(RaspismsError):
    """The modem answered ERROR or otherwise failed a command."""


class CmsError(ModemError):
    """``+CMS ERROR: <code>``: a message-service failure (3GPP TS 27.005 §3.2.5)."""

    def __init__(self, code: int, text: str = "") -> None:
        self.code = code
        super().__init__(f"+CMS ERROR: {code}" + (f" ({text})" if text else ""))


# SIM PIN required, SIM PUK required, incorrect password, SIM PIN2 / PUK2 required (3GPP TS 27.007
# §9.2.1): only the user can fix these, and retrying a wrong PIN locks the SIM after three tries.
SIM_LOCK_CODES = frozenset({11, 12, 16, 17, 18})


class CmeError(ModemError):
    """``+CME ERROR: <code>``: a mobile-equipment failure (3GPP TS 27.007 §9.2)."""

    def __init__(self, code: int, text: str = "") -> None:
        self.code = code
        super().__init__(f"+CME ERROR: {code}" + (f" ({text})" if text else ""))

    @property
    def sim_locked(self) -> bool:
        """The SIM wants a code we do not have (or refused ours): do not retry, tell the user."""
        return self.code in SIM_LOCK_CODES


class LinkError(RaspismsError):
    """The link to the modem failed: the modem did not answer, or is gone."""


class ModemTimeout(LinkError):
    """The modem did not finish a command in time."""


class ModemGone(LinkError):
    """The serial device disappeared or the connection to the phone closed."""


class StoreError(RaspismsError):
    """The store refused an operation: unknown id, wrong state, constraint."""


class DeliveryError(RaspismsError):
    """A webhook or delivery request that cannot be accepted (bad URL, unknown type)."""
