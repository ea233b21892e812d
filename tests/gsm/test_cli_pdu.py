"""``raspisms-daemon pdu decode|encode``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from raspisms_daemon.cli import main
from raspisms_daemon.gsm.pdu import SubmitPdu, decode

KEYS = {
    "type", "smsc", "number", "text", "scts", "discharge", "mr", "status", "outcome", "concat",
    "first_octet", "cmgs_length", "status_report_request",
}
SUBMIT_HEX = "0001000B917228001011F100000CC8329BFD065DDF72363904"


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_decode_deliver_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_main(
        capsys, "pdu", "decode", "06917228195339040B917228214365F700003130805120618005D4F29C2E03"
    )
    assert status == 0 and err == ""
    obj = json.loads(out)
    assert KEYS <= obj.keys()
    assert obj["type"] == "deliver"
    assert obj["smsc"] == "+2782913593"
    assert obj["number"] == "+27821234567"
    assert obj["text"] == "Test2"
    assert obj["scts"] == "2013-03-08T15:02:16+02:00"
    assert obj["discharge"] is None and obj["mr"] is None and obj["status"] is None
    assert obj["concat"] is None
    assert obj["first_octet"] == 4


def test_decode_status_report_prints_mr_status_outcome_and_times(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_main(
        capsys, "pdu", "decode", "07917248014000F506B70AA18092020000317071518590803170715185418000"
    )
    obj = json.loads(out)
    assert status == 0
    assert obj["type"] == "status_report"
    assert (obj["mr"], obj["number"], obj["status"], obj["outcome"]) == (183, "0829200000", 0, "delivered")
    assert obj["scts"] == "2013-07-17T15:58:09+02:00"
    assert obj["discharge"] == "2013-07-17T15:58:14+02:00"
    assert obj["text"] is None


def test_decode_submit_with_concat(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_main(capsys, "pdu", "encode", "+33612345678", "é" * 100 + "ç", "--ref", "42")
    parts = json.loads(out)
    assert status == 0 and len(parts) == 2
    assert [p["cmgs_length"] for p in parts] == [len(bytes.fromhex(p["hex"])) - 1 for p in parts]
    status, out, _ = run_main(capsys, "pdu", "decode", parts[1]["hex"])
    obj = json.loads(out)
    assert obj["type"] == "submit"
    assert obj["concat"] == {"ref": 42, "total": 2, "seq": 2}
    assert obj["status_report_request"] is True
    assert obj["cmgs_length"] == parts[1]["cmgs_length"]
    assert obj["number"] == "+33612345678"
    assert obj["text"] == "é" * 33 + "ç"


def test_encode_flags_reach_the_pdu(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_main(
        capsys, "pdu", "encode", "0612345678", "hi", "--smsc", "+33612000000", "--no-report", "--flash",
        "--validity", "60",
    )
    assert status == 0
    (part,) = json.loads(out)
    msg = decode(part["hex"])
    assert isinstance(msg, SubmitPdu)
    assert msg.smsc == "+33612000000" and not msg.status_report_request and msg.flash
    assert msg.validity == bytes([11])  # 12 × 5 min
    assert msg.number == "0612345678" and msg.text == "hi"


def test_decode_no_smsc_reads_a_pdu_without_the_smsc_part(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_main(capsys, "pdu", "decode", "--no-smsc", SUBMIT_HEX[2:])
    assert status == 0
    assert json.loads(out)["text"] == "Hello World!"


@pytest.mark.parametrize("bad", ["0791ZZ", "00", "0004912143"])
def test_bad_pdu_exits_1_with_a_message(capsys: pytest.CaptureFixture[str], bad: str) -> None:
    status, out, err = run_main(capsys, "pdu", "decode", bad)
    assert status == 1
    assert out == ""
    assert "cannot decode" in err and "Traceback" not in err


def test_unencodable_number_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_main(capsys, "pdu", "encode", "not-a-number", "hi")
    assert status == 1 and out == "" and "cannot encode" in err


def test_subprocess_usage_error_is_2_and_bad_input_is_1_without_traceback() -> None:
    usage = subprocess.run(
        [sys.executable, "-m", "raspisms_daemon", "pdu", "decode"], capture_output=True, text=True, timeout=60
    )
    assert usage.returncode == 2
    assert "usage" in usage.stderr.lower()
    bad = subprocess.run(
        [sys.executable, "-m", "raspisms_daemon", "pdu", "decode", "FFFF"], capture_output=True, text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert bad.stdout == "" and "Traceback" not in bad.stderr and "cannot decode" in bad.stderr
    good = subprocess.run(
        [sys.executable, "-m", "raspisms_daemon", "pdu", "decode", SUBMIT_HEX],
        capture_output=True, text=True, timeout=60,
    )
    assert good.returncode == 0
    assert json.loads(good.stdout)["cmgs_length"] == 24
