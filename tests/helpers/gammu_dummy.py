"""Helpers for gammu's dummy driver: a directory that libgammu treats as a phone.

What libgammu (``model = dummy``, ``connection = none``, ``device = <dir>``) really reads, checked
against libgammu's phone/dummy/dummy.c:

- ``sms/<folder>/<n>``: one message per file, in gammu's SMS backup format (``[SMSBackup000]``);
  folder 1 is the SIM inbox, 2 the SIM outbox, 3/4 the phone's, 5 templates. ``GetNextSMS`` reports
  the message at ``sms/F/n`` with ``Folder = F`` and ``Location = F * 10000 + n``, and ``DeleteSMS``
  with that Location unlinks the file.
- ``incoming-call``: if it exists when an API call starts (and incoming calls are enabled), the driver
  calls the incoming-call callback (``IncomingCall`` from ``+800123456``) and deletes the file.
- ``operations.log``: what the driver did that leaves no file (it is truncated at Init).
- ``SendSMS`` always answers message reference 255.

The files are written here by hand, as ``gammu savesms``/``SaveSMSBackup`` would, so the tests do not
use python-gammu to prepare what python-gammu is then tested on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "DUMMY_CALLER",
    "DUMMY_LOCATION_BASE",
    "DUMMY_SEND_REFERENCE",
    "DummyPhone",
]

DUMMY_CALLER = "+800123456"
DUMMY_LOCATION_BASE = 10000  # DUMMY_MAX_SMS in libgammu
DUMMY_SEND_REFERENCE = 255
_SUBDIRS = ("sms/1", "sms/2", "sms/3", "sms/4", "sms/5", "pbk", "fs", "note", "todo", "calendar", "alarm")


def _hex_utf16(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def _quoted(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


def _backup_datetime(when: datetime) -> str:
    """gammu's backup timestamps are UTC with a trailing Z."""
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass
class DummyPhone:
    """A dummy-driver device directory, laid out like DUMMY_Initialise does."""

    root: Path

    @classmethod
    def create(cls, root: Path) -> DummyPhone:
        for sub in _SUBDIRS:
            (root / sub).mkdir(parents=True, exist_ok=True)
        return cls(root)

    @property
    def device(self) -> str:
        return str(self.root)

    def free_slot(self, folder: int = 1) -> int:
        n = 1
        while (self.root / "sms" / str(folder) / str(n)).exists():
            n += 1
        return n

    def location(self, folder: int, slot: int) -> int:
        """The gammu Location the driver reports for ``sms/<folder>/<slot>``."""
        return folder * DUMMY_LOCATION_BASE + slot

    def stored(self, folder: int = 1) -> list[int]:
        return sorted(int(p.name) for p in (self.root / "sms" / str(folder)).iterdir() if p.name.isdigit())

    def _write(self, folder: int, slot: int | None, body: str) -> int:
        slot = self.free_slot(folder) if slot is None else slot
        path = self.root / "sms" / str(folder) / str(slot)
        tmp = path.with_name(f".{slot}.tmp")
        tmp.write_text(
            "; This file format was designed for Gammu and is compatible with Gammu+\n\n"
            "[SMSBackup000]\n" + body,
            encoding="utf-8",
        )
        os.replace(tmp, path)  # the poller never reads a half-written file
        return self.location(folder, slot)

    def drop_sms(
        self,
        number: str,
        text: str,
        *,
        when: datetime | None = None,
        udh: bytes | None = None,
        unicode: bool = False,
        smsc: str = "+33612000000",
        folder: int = 1,
        slot: int | None = None,
    ) -> int:
        """Store a received message (SMS-DELIVER); returns the Location gammu will report."""
        when = when or datetime.now(UTC)
        lines = [
            f"SMSC = {_quoted(smsc)}",
            f"SMSCUnicode = {_hex_utf16(smsc)}",
            "PDU = Deliver",
            f"DateTime = {_backup_datetime(when)}",
            "State = UnRead",
            f"Number = {_quoted(number)}",
            f"NumberUnicode = {_hex_utf16(number)}",
            'Name = ""',
            "NameUnicode = ",
        ]
        if udh:
            lines.append(f"UDH = {udh.hex().upper()}")
        encoded = _hex_utf16(text)
        # gammu splits the text in lines of 200 hex digits (Text00, Text01 …) and joins them back.
        for n, start in enumerate(range(0, max(len(encoded), 1), 200)):
            lines.append(f"Text{n:02d} = {encoded[start : start + 200]}")
        lines += [
            f"Coding = {'Unicode_No_Compression' if unicode else 'Default_No_Compression'}",
            f"Folder = {folder}",
            f"Length = {len(text)}",
            "Class = -1",
            "ReplySMSC = False",
            "RejectDuplicates = False",
            "ReplaceMessage = 0",
            "MessageReference = 0",
        ]
        return self._write(folder, slot, "\n".join(lines) + "\n")

    def drop_multipart(
        self, number: str, parts: list[str], *, ref: int, when: datetime | None = None, folder: int = 1
    ) -> list[int]:
        """Store the parts of one concatenated message (8-bit reference), each with its UDH."""
        total = len(parts)
        return [
            self.drop_sms(number, chunk, when=when, udh=bytes([5, 0, 3, ref, total, seq]), folder=folder)
            for seq, chunk in enumerate(parts, 1)
        ]

    def drop_status_report(
        self,
        mr: int,
        number: str,
        *,
        status: int = 0,
        when: datetime | None = None,
        folder: int = 1,
        slot: int | None = None,
    ) -> int:
        """Store an SMS-STATUS-REPORT for message reference ``mr`` (TP-ST = ``status``)."""
        when = when or datetime.now(UTC)
        lines = [
            'SMSC = "+33612000000"',
            "PDU = Status_Report",
            f"DateTime = {_backup_datetime(when)}",
            f"SMSCDateTime = {_backup_datetime(when)}",
            "State = UnRead",
            f"Number = {_quoted(number)}",
            f"NumberUnicode = {_hex_utf16(number)}",
            f"DeliveryStatus = {status}",
            "Coding = Default_No_Compression",
            f"Folder = {folder}",
            "Length = 0",
            "Class = -1",
            f"MessageReference = {mr}",
        ]
        return self._write(folder, slot, "\n".join(lines) + "\n")

    def ring(self) -> None:
        """Make the driver report an incoming call (from DUMMY_CALLER) at its next API call."""
        (self.root / "incoming-call").write_text("")

    @property
    def ringing(self) -> bool:
        """True until the driver has consumed the incoming-call file."""
        return (self.root / "incoming-call").exists()

    def operations_log(self) -> str:
        path = self.root / "operations.log"
        return path.read_text() if path.exists() else ""
