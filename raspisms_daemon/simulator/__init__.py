"""The virtual GSM modem: a product feature (``raspisms-daemon simulate serve``, the demo) and the
real peer of most tests.

:class:`Simulator` (:mod:`.engine`) runs one modem on a pseudo-terminal (:mod:`.pty`): bytes become
command lines (:mod:`.line`), the firmware answers them (:mod:`.commands`) from the modem's state
(:mod:`.modem`) as its personality words it (:mod:`.personality`), indications wait for a free link
(:mod:`.urcs`), and faults make it misbehave on request (:mod:`.faults`). :class:`ControlServer`
(:mod:`.control`) lets another process drive it.

It builds on the pure GSM core (:mod:`raspisms_daemon.gsm.pdu`, :mod:`~raspisms_daemon.gsm.at_protocol`)
and on nothing else of the daemon; nothing in :mod:`raspisms_daemon.gsm` imports it.
"""

from .control import ControlError, ControlServer, control_path, control_request
from .engine import Simulator
from .modem import SimulatorError
from .personality import PROFILES, Personality, Profile, profile_for

__all__ = [
    "PROFILES",
    "ControlError",
    "ControlServer",
    "Personality",
    "Profile",
    "Simulator",
    "SimulatorError",
    "control_path",
    "control_request",
    "profile_for",
]
