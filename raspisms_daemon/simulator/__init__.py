"""The virtual GSM modem: a product feature (``raspisms-daemon simulate serve``, the demo) and the
real peer of most tests.

:mod:`.engine` runs one simulated modem (:class:`Simulator`); :mod:`.commands` is its firmware,
:mod:`.personality` the quirks of the modems it imitates, :mod:`.control` the socket that drives it
from another process.
"""

from .control import ControlError, ControlServer, control_path, control_request
from .engine import Simulator, SimulatorError
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
