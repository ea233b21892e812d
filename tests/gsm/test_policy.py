"""The connection policy both backends share: the PIN decision, the refused-PIN memory, the backoff."""

from __future__ import annotations

import pytest

from raspisms_daemon.errors import CmeError, CmsError, ModemError, ModemGone, ModemTimeout
from raspisms_daemon.gsm.policy import (
    DEFAULT_BACKOFF,
    PinStep,
    ReconnectPolicy,
    Recovery,
    RefusedPins,
    SimStatus,
    decide_pin,
    refused_pin_error,
    sim_status_from_cpin,
    sim_status_from_gammu,
)


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("READY", SimStatus.READY),
        ("ready", SimStatus.READY),
        ("SIM PIN", SimStatus.PIN),
        ("SIM PUK", SimStatus.PUK),
        ("SIM PUK2", SimStatus.PUK),
        ("SIM PIN2", SimStatus.NOT_READY),
        ("PH-SIM PIN", SimStatus.NOT_READY),
        ("NOT READY", SimStatus.NOT_READY),
        ("", SimStatus.NOT_READY),
    ],
)
def test_sim_status_from_cpin(text: str, status: SimStatus) -> None:
    assert sim_status_from_cpin(text) is status


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (None, SimStatus.READY),
        ("PIN", SimStatus.PIN),
        ("PUK", SimStatus.PUK),
        ("PIN2", SimStatus.OTHER_CODE),
        ("PUK2", SimStatus.OTHER_CODE),
        ("Phone", SimStatus.OTHER_CODE),
        ("Network", SimStatus.OTHER_CODE),
    ],
)
def test_sim_status_from_gammu(answer: str | None, status: SimStatus) -> None:
    assert sim_status_from_gammu(answer) is status


# status, detail, configured pin, refused before, entered in this attempt → step, CME code, message part
PIN_CASES = [
    (SimStatus.READY, "READY", None, False, False, PinStep.READY, None, None),
    (SimStatus.READY, "READY", "1234", True, False, PinStep.READY, None, None),
    (SimStatus.PIN, "SIM PIN", "1234", False, False, PinStep.ENTER_PIN, None, None),
    (SimStatus.PIN, "SIM PIN", "1234", False, True, PinStep.WAIT, None, None),
    (SimStatus.PIN, "SIM PIN", None, False, False, PinStep.STOP, 11, "no pin is configured"),
    (SimStatus.PIN, "SIM PIN", "", False, False, PinStep.STOP, 11, "no pin is configured"),
    (SimStatus.PIN, "SIM PIN", "1234", True, False, PinStep.STOP, 16, "refused the configured PIN before"),
    (SimStatus.PUK, "SIM PUK", "1234", False, False, PinStep.STOP, 12, "PUK-locked (SIM PUK)"),
    (SimStatus.OTHER_CODE, "PIN2", "1234", False, False, PinStep.STOP, 17, "asks for PIN2"),
    (SimStatus.NOT_READY, "NOT READY", "1234", False, False, PinStep.STOP, 10, "SIM not ready: NOT READY"),
    (SimStatus.NOT_READY, "", None, False, False, PinStep.STOP, 10, "SIM not ready: no answer"),
]


@pytest.mark.parametrize(
    ("status", "detail", "pin", "refused", "entered", "step", "code", "message"), PIN_CASES
)
def test_decide_pin(
    status: SimStatus,
    detail: str,
    pin: str | None,
    refused: bool,
    entered: bool,
    step: PinStep,
    code: int | None,
    message: str | None,
) -> None:
    decision = decide_pin(status, detail, pin, refused_before=refused, entered=entered)
    assert decision.step is step
    if code is None:
        assert decision.error is None
    else:
        assert decision.error is not None and decision.error.code == code
        assert message is not None and message in str(decision.error)
        assert "1234" not in str(decision.error)
        # Retries (the phone supervisor's, the reconnect loops') stop only when the user must act.
        assert decision.error.sim_locked is (code != 10)


@pytest.mark.parametrize(
    ("refusal", "code"),
    [
        (CmeError(16, "incorrect password"), 16),
        (CmeError(12), 12),  # the modem says the SIM now wants its PUK
        (ModemError("EnterSecurityCode: Security error (ERR_SECURITYERROR, code 27)"), 16),
        (CmsError(500), 16),
    ],
)
def test_a_refused_pin_is_a_typed_error(refusal: ModemError, code: int) -> None:
    error = refused_pin_error(refusal)
    assert error.code == code and error.sim_locked
    assert "refused the configured PIN" in str(error) and str(refusal) in str(error)


def test_refused_pins_are_remembered_per_device() -> None:
    pins = RefusedPins()
    assert not pins.refused("/dev/ttyUSB0", "0000")
    pins.remember("/dev/ttyUSB0", "0000")
    assert pins.refused("/dev/ttyUSB0", "0000")
    assert not pins.refused("/dev/ttyUSB0", "1234")  # the user fixed the pin
    assert not pins.refused("/dev/ttyUSB1", "0000")  # another SIM
    assert not pins.refused("/dev/ttyUSB0", None)


@pytest.mark.parametrize(
    ("backoff", "delays"),
    [
        (DEFAULT_BACKOFF, [1.0, 2.0, 5.0, 10.0, 30.0, 30.0, 30.0]),
        ((0.2, 60.0), [0.2, 60.0, 60.0]),
        ((5.0,), [5.0, 5.0]),
    ],
)
def test_the_backoff_schedule_repeats_its_last_delay(backoff: tuple[float, ...], delays: list[float]) -> None:
    policy = ReconnectPolicy(backoff)
    assert [policy.delay(n) for n in range(len(delays))] == delays


def test_a_backoff_needs_a_delay() -> None:
    with pytest.raises(ValueError, match="at least one delay"):
        ReconnectPolicy(())


@pytest.mark.parametrize(
    ("error", "recovery"),
    [
        (ModemGone("cannot open /dev/ttyUSB0"), Recovery.RETRY),
        (ModemError("AT+CMGF=0: ERROR"), Recovery.RETRY),
        (CmeError(10, "SIM not ready"), Recovery.RETRY),
        (CmeError(14), Recovery.RETRY),  # SIM busy
        (ModemTimeout("AT: no answer in 1 s"), Recovery.RESET),
        (CmeError(11), Recovery.GIVE_UP),
        (CmeError(12), Recovery.GIVE_UP),
        (CmeError(16), Recovery.GIVE_UP),
        (CmeError(17), Recovery.GIVE_UP),
    ],
)
def test_what_a_failed_reconnect_calls_for(error: Exception, recovery: Recovery) -> None:
    assert ReconnectPolicy().after_failure(error) is recovery
