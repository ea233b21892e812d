"""``raspisms-daemon pdu decode|encode``: look inside a PDU, or build the parts for AT+CMGS."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from ..errors import PduError
from ..gsm.pdu import Concat, DeliverPdu, StatusReportPdu, SubmitPdu, decode, encode_submit

__all__ = ["pdu_to_json", "register"]


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def _concat(concat: Concat | None) -> dict[str, int] | None:
    if concat is None:
        return None
    return {"ref": concat.ref, "total": concat.total, "seq": concat.seq}


def pdu_to_json(msg: DeliverPdu | StatusReportPdu | SubmitPdu) -> dict[str, Any]:
    """The JSON object ``pdu decode`` prints: the same keys for every type, null where not present."""
    out: dict[str, Any] = {
        "type": None, "smsc": msg.smsc, "number": msg.number, "text": None, "scts": None,
        "discharge": None, "mr": None, "status": None, "outcome": None, "concat": None,
        "first_octet": msg.first_octet, "cmgs_length": None, "status_report_request": None,
        "encoding": None, "flash": None, "udh": None,
    }
    if isinstance(msg, DeliverPdu | SubmitPdu):
        out.update(
            text=msg.text, concat=_concat(msg.concat), encoding=msg.encoding, flash=msg.flash,
            udh=msg.udh.hex().upper() if msg.udh else None,
        )
        if msg.encoding == "8bit":
            out["data"] = msg.data.hex().upper()  # binary payload: no text to show, so show the octets
    if isinstance(msg, DeliverPdu):
        out.update(type="deliver", scts=_iso(msg.scts))
    elif isinstance(msg, SubmitPdu):
        out.update(
            type="submit", mr=msg.mr, cmgs_length=msg.cmgs_length,
            status_report_request=msg.status_report_request,
        )
    else:
        out.update(
            type="status_report", scts=_iso(msg.scts), discharge=_iso(msg.discharge), mr=msg.mr,
            status=msg.status, outcome=msg.outcome,
        )
    return out


def _dumps(value: Any) -> str:
    # Raw UTF-8 when the terminal takes it (readable texts); \u escapes otherwise, never a crash.
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    return json.dumps(value, ensure_ascii=not encoding.startswith("utf"))


def _decode(args: argparse.Namespace) -> int:
    try:
        msg = decode(args.hex, smsc=not args.no_smsc)
    except PduError as exc:
        print(f"raspisms-daemon pdu decode: cannot decode: {exc}", file=sys.stderr)
        return 1
    print(_dumps(pdu_to_json(msg)))
    return 0


def _encode(args: argparse.Namespace) -> int:
    try:
        parts = encode_submit(
            args.number, args.text, smsc=args.smsc, status_report=not args.no_report, concat_ref=args.ref,
            flash=args.flash, validity_minutes=args.validity,
        )
    except PduError as exc:
        print(f"raspisms-daemon pdu encode: cannot encode: {exc}", file=sys.stderr)
        return 1
    out = [
        {"hex": p.hex, "cmgs_length": p.tpdu_length, "encoding": p.encoding, "concat": _concat(p.concat),
         "text": p.text}
        for p in parts
    ]
    print(_dumps(out))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("pdu", help="decode or build SMS PDUs (hex, as modems print them)")
    sub = parser.add_subparsers(dest="pdu_command", metavar="ACTION", required=True)

    dec = sub.add_parser("decode", help="decode one PDU and print it as JSON")
    dec.add_argument("hex", metavar="HEX", help="the PDU in hex, SMSC part first (as +CMGR/+CMGL print it)")
    dec.add_argument("--no-smsc", action="store_true", help="the PDU has no SMSC part")
    dec.set_defaults(func=_decode)

    enc = sub.add_parser("encode", help="build SMS-SUBMIT parts; prints a JSON list of {hex, cmgs_length}")
    enc.add_argument("number", metavar="NUMBER", help='destination, "+<digits>" or national digits')
    enc.add_argument("text", metavar="TEXT")
    enc.add_argument("--smsc", default=None, help="SMSC number (default: 00, the SIM's SMSC)")
    enc.add_argument("--no-report", action="store_true", help="do not request a status report")
    enc.add_argument("--flash", action="store_true", help="class 0 (flash) message")
    enc.add_argument("--ref", type=int, default=0, help="concatenation reference (>255: 16-bit element)")
    enc.add_argument("--validity", type=int, default=None, metavar="MINUTES", help="relative validity period")
    enc.set_defaults(func=_encode)
