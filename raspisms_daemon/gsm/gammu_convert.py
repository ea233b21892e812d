"""Conversions between python-gammu's dicts and our types (pure: no libgammu call, no clock).

python-gammu never shows a PDU: it gives decoded messages as dicts. These functions rebuild our
:class:`~.pdu.DeliverPdu`/:class:`~.pdu.StatusReportPdu` from them, build the dict ``SendSMS`` takes
for one :class:`~.pdu.SubmitPart`, and read signal, operator and registration from libgammu's answers.
A message without a timestamp is stamped with the ``now`` the caller passes (its clock's time).
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import PduError
from . import gsm7
from .modem import Identity, ModemEvent, ReportReceived, SmsReceived, UndecodableSms
from .pdu import Concat, DeliverPdu, StatusReportPdu, SubmitPart, parse_udh, status_outcome

if TYPE_CHECKING:
    from .event_stream import MessageKey

__all__ = [
    "deliver_from_gammu",
    "event_from_gammu",
    "identity_from_gammu",
    "message_key",
    "operator_name",
    "report_from_gammu",
    "rssi_from_quality",
    "submit_message",
]

_REGISTRATION = {
    "HomeNetwork": "home",
    "RoamingNetwork": "roaming",
    "RequestingNetwork": "searching",
    "RegistrationDenied": "denied",
    "NoNetwork": "unregistered",
}


def submit_message(part: SubmitPart) -> dict[str, Any]:
    """The python-gammu SMS dict for one part ready to send.

    python-gammu has no ``DeliveryReport`` key: ``Type = Status_Report`` is what makes libgammu set
    TP-SRR in the SMS-SUBMIT (as ``gammu sendsms -report`` does).
    """
    message: dict[str, Any] = {
        "Number": part.number,
        "Text": part.text,
        "SMSC": {"Location": 1},
        "Type": "Status_Report" if part.status_report_request else "Submit",
        "Coding": "Unicode_No_Compression" if part.encoding == "ucs2" else "Default_No_Compression",
        "Folder": 0,
        "Location": 0,
    }
    if part.flash:
        message["Class"] = 0
    c = part.concat
    if c is not None and part.udh:
        # The codec already built the header (8- or 16-bit element): libgammu sends its Text as is.
        wide = part.udh[1] == 0x08
        message["UDH"] = {
            "Type": "ConcatenatedMessages16bit" if wide else "ConcatenatedMessages",
            "Text": part.udh,
            "ID16bit" if wide else "ID8bit": c.ref,
            "PartNumber": c.seq,
            "AllParts": c.total,
        }
    elif part.udh:
        message["UDH"] = {"Type": "UserUDH", "Text": part.udh}
    return message


def operator_name(network: dict[str, Any], known: dict[str, str]) -> str | None:
    """The operator's name: as the network gives it (python-gammu ≥ 3.3 passes it on), else libgammu's
    table of network codes (``gammu.GSMNetworks``), else the code itself (``"208 15"``)."""
    code = network.get("NetworkCode") or None
    return network.get("NetworkName") or (known.get(code) if code else None) or code


def rssi_from_quality(quality: dict[str, Any]) -> int | None:
    """+CSQ-style rssi (0..31) from gammu's signal quality (dBm when known, else percent)."""
    dbm = quality.get("SignalStrength", -1)
    if isinstance(dbm, int) and -113 <= dbm <= -51:
        return (dbm + 113) // 2
    percent = quality.get("SignalPercent", -1)
    if isinstance(percent, int) and 0 <= percent <= 100:
        return round(percent * 31 / 100)
    return None


def identity_from_gammu(
    *,
    manufacturer: Any,
    model: Any,
    imei: Any,
    imsi: Any,
    network: dict[str, Any] | None,
    quality: dict[str, Any] | None,
    known_networks: dict[str, str],
) -> Identity:
    """What the phone said about itself (None for each query it did not answer)."""
    if isinstance(model, tuple | list):  # GetModel gives (model, name): the most specific one known
        model = next((m for m in reversed(model) if m and m != "unknown"), None)
    network = network or {}
    return Identity(
        manufacturer=manufacturer or None,
        model=model or None,
        imei=imei or None,
        imsi=imsi or None,
        iccid=None,  # libgammu has no portable ICCID query
        operator=operator_name(network, known_networks),
        signal=rssi_from_quality(quality) if quality else None,
        registration=_REGISTRATION.get(network.get("State", ""), "unknown") if network else None,
    )


def message_key(part: dict[str, Any]) -> MessageKey:
    """Where the part is stored, and a fingerprint of its content (gammu shows no PDU)."""
    udh = part.get("UDH") or {}
    text = part.get("Text")
    fingerprint = "|".join(
        str(x)
        for x in (
            part.get("Type"),
            part.get("Number"),
            text,
            part.get("DateTime"),
            udh.get("Text"),
            part.get("MessageReference"),
        )
    )
    return (str(part.get("Folder", 0)), int(part.get("Location", 0)), fingerprint)


def _aware(value: Any) -> datetime | None:
    """gammu's timestamp: python-gammu ≥ 3.3 gives it with the zone libgammu knows; older ones
    give a naive time, which is the phone's local time."""
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        return value.astimezone()
    return value


def _concat(part: dict[str, Any], raw: bytes) -> Concat | None:
    """The concatenation element: from the raw UDH (length octet first) when there is one, else from
    the fields gammu decoded (a header the codec finds malformed falls back to those too)."""
    if raw:
        with contextlib.suppress(PduError):
            concat = parse_udh(raw)
            if concat is not None:
                return concat
    udh = part.get("UDH") or {}
    if udh.get("Type") in ("ConcatenatedMessages", "ConcatenatedMessages16bit"):
        ref = udh.get("ID16bit", -1)
        if ref is None or ref < 0:
            ref = udh.get("ID8bit", -1)
        total, seq = udh.get("AllParts", -1), udh.get("PartNumber", -1)
        if ref is not None and ref >= 0 and 1 <= seq <= total:
            return Concat(ref=ref, total=total, seq=seq)
    return None


def deliver_from_gammu(part: dict[str, Any], now: datetime) -> DeliverPdu:
    """A DeliverPdu built from gammu's decoded fields (gammu never shows us the PDU itself).

    ``first_octet``, ``pid`` and ``dcs`` are reconstructed from what gammu reports; ``data`` follows the
    codec's convention (GSM-7: one septet value per octet; UCS-2: UTF-16-BE; 8-bit: the octets).
    """
    udh_info = part.get("UDH") or {}
    raw_udh = bytes(udh_info.get("Text") or b"")
    coding = part.get("Coding", "Default_No_Compression")
    text_value = part.get("Text", "")
    if coding == "8bit":
        encoding, dcs = "8bit", 0x04
        data = bytes(text_value) if isinstance(text_value, bytes | bytearray) else b""
        text = ""
    elif coding.startswith("Unicode"):
        encoding, dcs = "ucs2", 0x08
        text = str(text_value)
        data = text.encode("utf-16-be", errors="surrogatepass")
    else:
        encoding, dcs = "gsm7", 0x00
        text = str(text_value)
        try:
            data = bytes(gsm7.encode_septets(text))
        except PduError:
            data = b""
    klass = part.get("Class", -1)
    if isinstance(klass, int) and 0 <= klass <= 3:
        dcs |= 0x10 | klass
    scts = _aware(part.get("DateTime")) or _aware(part.get("SMSCDateTime")) or now
    first_octet = 0x04 | (0x40 if raw_udh else 0) | (0x80 if part.get("ReplyViaSameSMSC") else 0)
    smsc = (part.get("SMSC") or {}).get("Number") or None
    return DeliverPdu(
        smsc=smsc,
        number=str(part.get("Number", "")),
        text=text,
        scts=scts,
        concat=_concat(part, raw_udh),
        first_octet=first_octet,
        pid=0,
        dcs=dcs,
        encoding=encoding,
        udh=raw_udh or None,
        data=data,
        flash=klass == 0,
    )


def report_from_gammu(part: dict[str, Any], now: datetime) -> StatusReportPdu:
    """A StatusReportPdu from gammu's fields: MessageReference, recipient, TP-ST (``DeliveryStatus``)."""
    status = int(part.get("DeliveryStatus", 0)) & 0xFF
    scts = _aware(part.get("DateTime")) or now
    discharge = _aware(part.get("SMSCDateTime")) or scts
    return StatusReportPdu(
        smsc=(part.get("SMSC") or {}).get("Number") or None,
        first_octet=0x06,  # SMS-STATUS-REPORT, TP-MMS set: gammu does not give the real one
        mr=int(part.get("MessageReference", 0)) & 0xFF,
        number=str(part.get("Number", "")),
        scts=scts,
        discharge=discharge,
        status=status,
        outcome=status_outcome(status),
    )


def event_from_gammu(part: dict[str, Any], now: datetime) -> ModemEvent | None:
    """The event for one stored part; None for what is not ours to report (sent/draft messages)."""
    index = int(part.get("Location", 0))
    storage = str(part.get("Folder", 0))
    kind = part.get("Type")
    try:
        if kind == "Status_Report":
            return ReportReceived(index=index, storage=storage, pdu="", report=report_from_gammu(part, now))
        if kind == "Deliver":
            return SmsReceived(index=index, storage=storage, pdu="", message=deliver_from_gammu(part, now))
    except (ValueError, TypeError, KeyError) as exc:
        # Kept, never dropped: the supervisor stores undecodable messages raw.
        return UndecodableSms(index=index, storage=storage, pdu="", error=f"gammu message: {exc!r}")
    return None
