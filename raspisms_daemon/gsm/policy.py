"""How a backend gets its modem and gets it back, shared by the AT and the gammu backend (pure).

- The SIM PIN: :func:`decide_pin` says, from the SIM's status, the configured PIN and whether the SIM
  refused that PIN before, whether to go on, enter the PIN, ask again, or stop with a typed error.
  A SIM locks itself (PUK) after three wrong PINs, so a refused PIN is never entered again in this
  process: :class:`RefusedPins` remembers it, and it outlives the backends (the phone supervisor
  builds a fresh backend after every failed start).
- Reconnecting: :class:`ReconnectPolicy` is the backoff schedule and what to do after a failed attempt
  (retry; reset a modem that does not answer; give up when only the user can help).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

from ..errors import CmeError, ModemTimeout

__all__ = [
    "DEFAULT_BACKOFF",
    "PinDecision",
    "PinStep",
    "ReconnectPolicy",
    "Recovery",
    "RefusedPins",
    "SimStatus",
    "decide_pin",
    "refused_pin_error",
    "sim_status_from_cpin",
    "sim_status_from_gammu",
]


class SimStatus(enum.Enum):
    READY = "ready"
    PIN = "pin"  # the SIM wants its PIN
    PUK = "puk"  # three wrong PINs: only the PUK unlocks it
    OTHER_CODE = "other code"  # a code the daemon never types (PIN2, a phone or network lock)
    NOT_READY = "not ready"  # no usable status yet (no SIM, still booting)


def sim_status_from_cpin(text: str) -> SimStatus:
    """The status ``AT+CPIN?`` answered (``+CPIN: SIM PIN`` → ``"SIM PIN"``)."""
    status = text.upper()
    if status == "READY":
        return SimStatus.READY
    if status == "SIM PIN":
        return SimStatus.PIN
    if "PUK" in status:
        return SimStatus.PUK
    # PH-SIM PIN, SIM PIN2 and the like included: the AT backend has always treated them as "not
    # ready yet" (a retried start), not as a lock.
    return SimStatus.NOT_READY


def sim_status_from_gammu(status: str | None) -> SimStatus:
    """What libgammu's ``GetSecurityStatus`` answered (None: no code needed)."""
    if status is None:
        return SimStatus.READY
    if status == "PIN":
        return SimStatus.PIN
    if status == "PUK":
        return SimStatus.PUK
    return SimStatus.OTHER_CODE


class PinStep(enum.Enum):
    READY = "ready"  # go on with the init
    ENTER_PIN = "enter pin"
    WAIT = "wait"  # the PIN was accepted but is not effective yet: ask for the status again shortly
    STOP = "stop"  # raise the decision's error


class PinDecision(NamedTuple):
    step: PinStep
    error: CmeError | None = None  # what to raise when the step is STOP


def decide_pin(
    status: SimStatus, detail: str, pin: str | None, *, refused_before: bool, entered: bool = False
) -> PinDecision:
    """What to do about the SIM's lock. ``detail`` is the status as the modem wrote it (for messages),
    ``refused_before`` whether :class:`RefusedPins` holds this device's ``pin``, ``entered`` whether the
    PIN was entered in this attempt already."""
    if status is SimStatus.READY:
        return PinDecision(PinStep.READY)
    if status is SimStatus.PIN:
        if entered:
            return PinDecision(PinStep.WAIT)
        if not pin:
            return _stop(11, "the SIM asks for its PIN and no pin is configured")
        if refused_before:
            return _stop(16, "the SIM refused the configured PIN before; fix pin and restart")
        return PinDecision(PinStep.ENTER_PIN)
    if status is SimStatus.PUK:
        return _stop(12, f"the SIM is PUK-locked ({detail}); unlock it by hand")
    if status is SimStatus.OTHER_CODE:
        return _stop(17, f"the SIM asks for {detail}; unlock it elsewhere")
    return _stop(10, f"SIM not ready: {detail or 'no answer'}")


def refused_pin_error(refusal: BaseException) -> CmeError:
    """The error for a PIN the SIM refused (the modem's own CME code when it gave one)."""
    code = refusal.code if isinstance(refusal, CmeError) else 16
    return CmeError(code, f"the SIM refused the configured PIN ({refusal}); not retrying")


def _stop(code: int, message: str) -> PinDecision:
    return PinDecision(PinStep.STOP, CmeError(code, message))


class RefusedPins:
    """The (device, PIN) pairs a SIM refused in this process.

    The daemon creates one and hands it to every backend it builds: were the memory a backend's own,
    each rebuilt backend would spend one more of the SIM's three tries.
    """

    def __init__(self) -> None:
        self._refused: set[tuple[str, str]] = set()

    def refused(self, device: str, pin: str | None) -> bool:
        return pin is not None and (device, pin) in self._refused

    def remember(self, device: str, pin: str) -> None:
        self._refused.add((device, pin))


DEFAULT_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)


class Recovery(enum.Enum):
    RETRY = "retry"  # wait, then try again
    RESET = "reset"  # the modem does not answer: reboot it (AT+CFUN=1,1) where the backend can, then wait
    GIVE_UP = "give up"  # only the user can help (the SIM wants a code we do not have or refused ours)


@dataclass(frozen=True)
class ReconnectPolicy:
    """The reconnect loops' schedule and escalation: :meth:`delay` ``(n)`` is the n-th wait in a row
    (0-based; the last delay repeats), :meth:`after_failure` what a failed attempt calls for."""

    backoff: tuple[float, ...] = DEFAULT_BACKOFF

    def __post_init__(self) -> None:
        if not self.backoff:
            raise ValueError("a reconnect backoff needs at least one delay")

    def delay(self, failures: int) -> float:
        return self.backoff[min(failures, len(self.backoff) - 1)]

    def after_failure(self, error: BaseException) -> Recovery:
        if isinstance(error, CmeError) and error.sim_locked:
            return Recovery.GIVE_UP
        if isinstance(error, ModemTimeout):
            return Recovery.RESET
        return Recovery.RETRY
