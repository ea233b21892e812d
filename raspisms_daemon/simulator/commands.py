"""The simulated modem's firmware: what each AT command answers (3GPP TS 27.007 / 27.005).

:class:`AtCommands` works on a :class:`~.modem.ModemState` and words its answers as the personality's
:class:`~.personality.Profile` says. A handler takes ``(op, args)`` -- ``op`` is ``""``, ``"="``,
``"?"`` or ``"=?"`` -- and returns a :class:`Reply`; it never writes to the pty itself. The two effects
that go beyond an answer come from whoever runs the firmware: an indication sent once the answer is out
(``urc_soon``) and a reboot (``reboot``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from ..gsm.at_protocol import split_args
from .modem import ModemState, number_type, tpdu_length
from .personality import Personality, cpms_offer, cpms_test_line

__all__ = ["AtCommands", "Reply", "split_commands"]

log = logging.getLogger("raspisms_daemon.simulator")

# +CME ERROR texts for AT+CMEE=2 (27.007 §9.2); codes not listed are given as numbers.
_CME_TEXT = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    16: "incorrect password",
    21: "invalid index",
    100: "unknown",
}


@dataclass
class Reply:
    records: list[list[str]] = field(default_factory=list)
    final: str = "OK"  # "": no final result code at all (Wavecom's AT+CPIN?)
    prompt: int | None = None  # AT+CMGS=<length>: enter the "> " prompt expecting this TPDU length
    after: list[Callable[[], None]] = field(default_factory=list)  # run once the final result is written

    def encode(self, between: Callable[[], str] | None = None) -> bytes:
        """The answer on the wire: each record, then the final result code. ``between`` gives a line to
        put after each record (Huawei interleaves its URCs between response lines; clients must cope)."""
        out: list[str] = []
        for record in self.records:
            out.append("\r\n" + "\r\n".join(record) + "\r\n")
            if between is not None:
                out.append("\r\n" + between() + "\r\n")
        if self.final:
            out.append(f"\r\n{self.final}\r\n")
        return "".join(out).encode()


def split_commands(body: str) -> list[str]:
    """Split what follows ``AT`` into single commands: ``E0V1+CMGF=0;+CNMI?`` -> 4 commands."""
    cmds: list[str] = []
    i = 0
    n = len(body)
    while i < n:
        ch = body[i]
        if ch in " ;":
            i += 1
        elif ch in "+^":
            j = i + 1
            quoted = False
            while j < n and (quoted or body[j] != ";"):
                if body[j] == '"':
                    quoted = not quoted
                j += 1
            cmds.append(body[i:j])
            i = j
        elif ch == "&":
            j = i + 2
            while j < n and body[j].isdigit():
                j += 1
            cmds.append(body[i:j].upper())
            i = j
        elif ch.upper() == "S" and i + 1 < n and body[i + 1].isdigit():
            j = i + 1
            while j < n and body[j] not in ";+^&":
                j += 1
            cmds.append(body[i:j].upper())
            i = j
        elif ch.upper() == "D":  # dial takes the rest of the line
            cmds.append(body[i:])
            i = n
        elif ch.isalpha():
            j = i + 1
            while j < n and body[j].isdigit():
                j += 1
            cmds.append(body[i:j].upper())
            i = j
        else:
            raise ValueError(f"unexpected {ch!r} in command line")
    return cmds


def _read_or_test(op: str, read: str, test: str) -> Reply | None:
    """The ``AT+X?`` and ``AT+X=?`` answers of a plain setting; None for the other forms."""
    if op == "?":
        return Reply([[read]])
    if op == "=?":
        return Reply([[test]])
    return None


class AtCommands:
    """What the firmware answers, reading and changing ``modem``."""

    def __init__(
        self,
        modem: ModemState,
        *,
        urc_soon: Callable[[str], None],
        reboot: Callable[[], None],
    ) -> None:
        self._modem = modem
        self._urc_soon = urc_soon
        self._reboot = reboot

    # ------------------------------------------------------------------ errors

    def cme(self, code: int) -> str:
        """``+CME ERROR`` as AT+CMEE asks (plain ``ERROR``, a number, or a text)."""
        cmee = self._modem.settings.cmee
        if cmee == 0:
            return "ERROR"
        if cmee == 2 and code in _CME_TEXT:
            return f"+CME ERROR: {_CME_TEXT[code]}"
        return f"+CME ERROR: {code}"

    def cms(self, code: int) -> str:
        """``+CMS ERROR`` as AT+CMEE asks (plain ``ERROR`` or the number)."""
        return "ERROR" if self._modem.settings.cmee == 0 else f"+CMS ERROR: {code}"

    # ------------------------------------------------------------------ command lines

    def run(self, body: str) -> Reply:
        """Answer a command line (``body`` is what follows its ``AT``): its commands in turn, up to the
        first that fails -- its error is the final result code, and nothing the line scheduled runs --
        or that opens the ``> `` prompt, or that ends without a result code."""
        try:
            commands = split_commands(body)
        except ValueError:
            return Reply(final="ERROR")
        reply = Reply()
        for command in commands:
            one = self.dispatch(command)
            reply.records.extend(one.records)
            reply.after.extend(one.after)
            if one.prompt is not None:
                reply.prompt = one.prompt
                break
            if one.final == "":
                reply.final = ""
                break
            if one.final != "OK":
                reply.final = one.final
                reply.after.clear()
                break
        return reply

    def dispatch(self, command: str) -> Reply:
        """Answer one command (``+CMGR=3``, ``E0``, ``&F``…)."""
        if command[0] in "+^":
            name_end = len(command)
            for i, ch in enumerate(command):
                if ch in "=?":
                    name_end = i
                    break
            name = command[:name_end].upper()
            rest = command[name_end:]
            if rest.startswith("=?"):
                op, args = "=?", ""
            elif rest.startswith("="):
                op, args = "=", rest[1:]
            elif rest.startswith("?"):
                op, args = "?", ""
            else:
                op, args = "", ""
            handler = self._EXTENDED.get(name)
            if handler is None:
                log.debug("unknown command AT%s", command)
                return Reply(final="ERROR")
            try:
                return handler(self, op, args)
            except (ValueError, IndexError):
                return Reply(final=self.cme(3))
        return self._basic(command)

    def hang_up(self) -> None:
        """The client ends the call (ATH, AT+CHUP, a reboot)."""
        call = self._modem.end_call()
        if call is not None:
            log.info("call from %s hung up by the client", call.number)

    def _basic(self, command: str) -> Reply:
        letter = command[0].upper()
        arg = command[1:]
        if command.startswith("&") or letter in "QVX" or (letter == "S" and arg[:1].isdigit()):
            return Reply()  # &F &W &C &D Q V X S<n>=: accepted, nothing to simulate
        if letter == "E":
            self._modem.settings.echo = arg not in ("", "0")  # V.250: a missing value means 0
            return Reply()
        if letter == "Z":
            self._modem.reset_settings()
            return Reply()
        if letter == "I":
            return Reply([[self._modem.fmt(line) for line in self._modem.profile.ati]])
        if letter == "H":
            self.hang_up()
            return Reply()
        if letter == "A":
            call = self._modem.call
            if call is None:
                return Reply(final="NO CARRIER")
            call.state = "active"
            return Reply()
        if letter == "D":
            return Reply(final="NO CARRIER")
        return Reply(final="ERROR")

    def _sim_locked_reply(self, sms: bool) -> Reply:
        state = self._modem.sim_state
        if state == "READY":
            raise AssertionError("SIM is not locked")
        code = 12 if state == "SIM PUK" else 11
        return Reply(final=self.cms(311 if code == 11 else 316) if sms else self.cme(code))

    # identification --------------------------------------------------

    def _h_cgmi(self, op: str, args: str) -> Reply:
        return Reply() if op == "=?" else Reply([[self._modem.profile.manufacturer]])

    def _h_cgmm(self, op: str, args: str) -> Reply:
        return Reply() if op == "=?" else Reply([[self._modem.profile.model]])

    def _h_cgmr(self, op: str, args: str) -> Reply:
        return Reply() if op == "=?" else Reply([[self._modem.profile.revision]])

    def _h_cgsn(self, op: str, args: str) -> Reply:
        return Reply() if op == "=?" else Reply([[self._modem.imei]])

    def _h_cimi(self, op: str, args: str) -> Reply:
        if op == "=?":
            return Reply()
        if not self._modem.sim_ready():
            return self._sim_locked_reply(sms=False)
        return Reply([[self._modem.imsi]])

    def _h_iccid(self, op: str, args: str) -> Reply:
        if not self._modem.sim_ready():
            return self._sim_locked_reply(sms=False)
        return Reply([[f"{self._modem.profile.iccid_prefix}{self._modem.iccid}"]])

    def _h_ccid(self, op: str, args: str) -> Reply:
        if self._modem.profile.iccid_command != "+CCID" or op == "=":
            return Reply(final="ERROR")
        return Reply() if op == "=?" else self._h_iccid(op, args)

    def _h_qccid(self, op: str, args: str) -> Reply:
        if self._modem.profile.iccid_command != "+QCCID" or op not in ("", "=?"):
            return Reply(final="ERROR")
        return Reply() if op == "=?" else self._h_iccid(op, args)

    def _h_hw_iccid(self, op: str, args: str) -> Reply:
        if self._modem.profile.iccid_command != "^ICCID?" or op not in ("?", "=?"):
            return Reply(final="ERROR")
        return Reply() if op == "=?" else self._h_iccid(op, args)

    def _h_gcap(self, op: str, args: str) -> Reply:
        return Reply([["+GCAP: +CGSM,+DS,+ES"]])

    # settings --------------------------------------------------------

    def _set_int(self, name: str, args: str, allowed: range) -> Reply:
        """``AT+X=<n>`` for a numeric setting of :class:`~.modem.Settings` (a missing value means 0)."""
        value = int(args or "0")
        if value not in allowed:
            return Reply(final=self.cme(3))
        setattr(self._modem.settings, name, value)
        return Reply()

    def _set_flag(self, name: str, args: str) -> Reply:
        """``AT+X=<0|1>`` for an on/off setting of :class:`~.modem.Settings` (anything but 1 means off)."""
        setattr(self._modem.settings, name, (args or "0") == "1")
        return Reply()

    def _h_cmee(self, op: str, args: str) -> Reply:
        shown = _read_or_test(op, f"+CMEE: {self._modem.settings.cmee}", "+CMEE: (0-2)")
        return shown or self._set_int("cmee", args, range(3))

    def _h_cpin(self, op: str, args: str) -> Reply:
        modem = self._modem
        if op == "?":
            return Reply([[f"+CPIN: {modem.sim_state}"]], final="OK" if modem.profile.cpin_final else "")
        if op == "=?":
            return Reply()
        given = split_args(args)
        if modem.sim_state == "READY":
            return Reply(final=self.cme(3))
        if modem.sim_state == "SIM PUK":
            return Reply(final=self.cme(12))
        if given[0] == modem.pin:
            modem.sim_state = "READY"
            modem.pin_attempts = 3
            log.info("SIM unlocked")
            # Registration follows the unlock: announced to clients that asked for it.
            for command, n in (("+CREG", modem.settings.creg), ("+CGREG", modem.settings.cgreg)):
                if n:
                    self._urc_soon(self._reg_line(command, n, urc=True))
            return Reply()
        modem.pin_attempts -= 1
        if modem.pin_attempts <= 0:
            modem.sim_state = "SIM PUK"
        log.info("wrong PIN (%d attempt(s) left)", modem.pin_attempts)
        return Reply(final=self.cme(16))

    def _h_cmgf(self, op: str, args: str) -> Reply:
        shown = _read_or_test(op, "+CMGF: 0", "+CMGF: (0)")
        if shown:
            return shown
        if (args or "0") != "0":
            return Reply(final=self.cms(303))  # text mode is not simulated: PDU only
        return Reply()

    def _h_cscs(self, op: str, args: str) -> Reply:
        shown = _read_or_test(op, f'+CSCS: "{self._modem.settings.cscs}"', '+CSCS: ("IRA","GSM","UCS2")')
        if shown:
            return shown
        value = split_args(args)[0].upper()
        if value not in ("IRA", "GSM", "UCS2"):
            return Reply(final=self.cme(4))
        self._modem.settings.cscs = value
        return Reply()

    def _h_csdh(self, op: str, args: str) -> Reply:
        return _read_or_test(op, "+CSDH: 0", "+CSDH: (0,1)") or Reply()

    def _h_csms(self, op: str, args: str) -> Reply:
        shown = _read_or_test(op, "+CSMS: 0,1,1,1", "+CSMS: (0,1)")
        if shown:
            return shown
        if (args or "0") not in ("0", "1"):
            return Reply(final=self.cms(303))
        return Reply([["+CSMS: 1,1,1"]])

    def _h_csca(self, op: str, args: str) -> Reply:
        if op == "=?":
            return Reply()
        if not self._modem.sim_ready():
            return self._sim_locked_reply(sms=True)
        if op == "?":
            smsc = self._modem.smsc
            return Reply([[f'+CSCA: "{smsc}",{number_type(smsc)}']])
        number = split_args(args)[0]
        if not number:
            return Reply(final=self.cms(304))
        self._modem.smsc = number
        return Reply()

    def _h_cpms(self, op: str, args: str) -> Reply:
        modem = self._modem
        offered = cpms_offer(modem.profile, modem.cpms_form)
        if op == "=?":
            return Reply([[cpms_test_line(modem.cpms_form, offered)]])
        if not modem.sim_ready():
            return self._sim_locked_reply(sms=True)
        cap = modem.capacity
        if op == "?":
            m = modem.settings.mems
            u = [modem.used(mem) for mem in m]
            return Reply([[f'+CPMS: "{m[0]}",{u[0]},{cap},"{m[1]}",{u[1]},{cap},"{m[2]}",{u[2]},{cap}']])
        # Each parameter takes only what AT+CPMS=? offers for it, and no more parameters than it lists.
        wanted = [a.upper() for a in split_args(args) if a]
        if not wanted or len(wanted) > len(offered) or any(w not in offered[i] for i, w in enumerate(wanted)):
            return Reply(final=self.cms(302))
        mems = list(modem.settings.mems)
        mems[: len(wanted)] = wanted
        modem.settings.mems = (mems[0], mems[1], mems[2])
        counts = ",".join(f"{modem.used(mem)},{cap}" for mem in mems[: len(offered)])
        return Reply([[f"+CPMS: {counts}"]])

    def _h_cnmi(self, op: str, args: str) -> Reply:
        current = ",".join(str(v) for v in self._modem.settings.cnmi)
        shown = _read_or_test(op, f"+CNMI: {current}", self._modem.profile.cnmi_test)
        if shown:
            return shown
        values = [int(v) if v else 0 for v in split_args(args)]
        values += [0] * (5 - len(values))
        return Reply() if self._modem.set_cnmi(tuple(values)) else Reply(final=self.cms(303))

    def _h_cnma(self, op: str, args: str) -> Reply:
        return Reply()  # acknowledgements of +CMT/+CDS: nothing to retransmit in a simulation

    def _h_csq(self, op: str, args: str) -> Reply:
        if op == "=?":
            return Reply([["+CSQ: (0-31,99),(0-7,99)"]])
        rssi = self._modem.rssi if self._modem.settings.cfun == 1 else 99
        return Reply([[f"+CSQ: {rssi},99"]])

    def _reg_line(self, command: str, n: int, urc: bool = False) -> str:
        """``+CREG``/``+CGREG``: ``<n>,<stat>[,<lac>,<ci>]`` (the URC form has no ``<n>``).
        Registered on the home network (stat 1) whenever the SIM is ready and the radio on."""
        stat = 1 if self._modem.registered() else 0
        loc = ',"1A2B","C3D4"' if n == 2 and stat == 1 else ""
        return f"{command}: {stat}{loc}" if urc else f"{command}: {n},{stat}{loc}"

    def _h_creg(self, op: str, args: str) -> Reply:
        shown = _read_or_test(op, self._reg_line("+CREG", self._modem.settings.creg), "+CREG: (0-2)")
        return shown or self._set_int("creg", args, range(3))

    def _h_cgreg(self, op: str, args: str) -> Reply:
        # GPRS registration (27.007 §10.1.20): the simulated network attaches packet service too.
        shown = _read_or_test(op, self._reg_line("+CGREG", self._modem.settings.cgreg), "+CGREG: (0-2)")
        return shown or self._set_int("cgreg", args, range(3))

    def _h_cgatt(self, op: str, args: str) -> Reply:
        attached = int(self._modem.registered() and self._modem.settings.cgatt == 1)
        shown = _read_or_test(op, f"+CGATT: {attached}", "+CGATT: (0,1)")
        return shown or self._set_int("cgatt", args, range(2))

    def _operator_name(self, fmt: int) -> str:
        if fmt == 2:
            return self._modem.imsi[:5]  # MCC + MNC, as the SIM's home network
        operator = self._modem.operator
        return operator[:8] if fmt == 1 else operator

    def _h_cops(self, op: str, args: str) -> Reply:
        if op == "?":
            if not self._modem.registered():
                return Reply([["+COPS: 0"]])
            fmt = self._modem.settings.cops_format
            suffix = self._modem.profile.cops_suffix
            return Reply([[f'+COPS: 0,{fmt},"{self._operator_name(fmt)}"{suffix}']])
        if op == "=?":
            names = ",".join(f'"{self._operator_name(f)}"' for f in range(3))
            return Reply([[f"+COPS: (2,{names},2),,(0-4),(0-2)"]])
        values = split_args(args)
        # <mode> (automatic, manual, deregister, format only) is accepted: there is one network.
        if int(values[0] or "0") not in range(5):
            return Reply(final=self.cme(3))
        if len(values) > 1 and values[1]:
            fmt = int(values[1])
            if fmt not in range(3):
                return Reply(final=self.cme(3))
            self._modem.settings.cops_format = fmt
        return Reply()

    def _h_ccwa(self, op: str, args: str) -> Reply:
        # Call waiting (27.007 §7.12): <n> only enables the +CCWA URC; <mode>=2 queries the network.
        shown = _read_or_test(op, f"+CCWA: {self._modem.settings.ccwa}", "+CCWA: (0,1)")
        if shown:
            return shown
        values = split_args(args)
        reply = self._set_int("ccwa", values[0], range(2))
        if reply.final == "OK" and len(values) > 1 and values[1]:
            mode = int(values[1])
            if mode not in range(3):
                return Reply(final=self.cme(3))
            if mode == 2:
                return Reply([["+CCWA: 0,1"]])  # not active for voice
        return reply

    def _h_cfun(self, op: str, args: str) -> Reply:
        shown = _read_or_test(op, f"+CFUN: {self._modem.settings.cfun}", "+CFUN: (0,1,4),(0,1)")
        if shown:
            return shown
        values = split_args(args)
        fun = int(values[0] or "1")
        if fun not in (0, 1, 4):
            return Reply(final=self.cme(3))
        if len(values) > 1 and values[1] == "1":
            return Reply(after=[self._reboot])
        self._modem.settings.cfun = fun
        return Reply()

    def _h_clip(self, op: str, args: str) -> Reply:
        # <m> = 1: the network provides the caller's number (always, in this simulation).
        shown = _read_or_test(op, f"+CLIP: {int(self._modem.settings.clip)},1", "+CLIP: (0,1)")
        return shown or self._set_flag("clip", args)

    def _h_crc(self, op: str, args: str) -> Reply:
        shown = _read_or_test(op, f"+CRC: {int(self._modem.settings.crc)}", "+CRC: (0,1)")
        return shown or self._set_flag("crc", args)

    def _h_clcc(self, op: str, args: str) -> Reply:
        call = self._modem.call
        if op == "=?" or call is None:
            return Reply()
        stat = 4 if call.state == "ringing" else 0
        return Reply([[f'+CLCC: 1,1,{stat},0,0,"{call.number}",{number_type(call.number)}']])

    def _h_chup(self, op: str, args: str) -> Reply:
        self.hang_up()
        return Reply()

    def _h_curc(self, op: str, args: str) -> Reply:
        if self._modem.personality is not Personality.HUAWEI:
            return Reply(final="ERROR")
        shown = _read_or_test(op, f"^CURC: {self._modem.settings.curc}", "^CURC: (0-1)")
        if shown:
            return shown
        self._modem.settings.curc = int(args or "0")
        return Reply()

    def _h_portsel(self, op: str, args: str) -> Reply:
        # Huawei: which port carries URCs (libgammu sends ^PORTSEL=1 to any Huawei).
        if self._modem.personality is not Personality.HUAWEI:
            return Reply(final="ERROR")
        return Reply([["^PORTSEL: 0"]]) if op == "?" else Reply()

    def _h_cpbs(self, op: str, args: str) -> Reply:
        return _read_or_test(op, '+CPBS: "SM",0,250', '+CPBS: ("SM","FD","ON")') or Reply()

    def _h_cpbr(self, op: str, args: str) -> Reply:
        if op == "=?":
            return Reply([["+CPBR: (1-250),40,18"]])
        return Reply()

    # messages --------------------------------------------------------

    def _h_cmgr(self, op: str, args: str) -> Reply:
        modem = self._modem
        if op == "=?":
            return Reply()
        if not modem.sim_ready():
            return self._sim_locked_reply(sms=True)
        index = modem.index_arg(split_args(args)[0])
        if index is None:
            return Reply(final=self.cms(321))
        slot = modem.read_slots().get(index)
        if slot is None:
            if modem.personality is Personality.SIM800:
                return Reply()  # SIM800 answers a bare OK for an empty slot
            return Reply(final=self.cms(321))
        stat = int(slot.read)
        slot.read = True
        return Reply([[f"+CMGR: {stat},,{tpdu_length(slot.pdu)}", modem.shown_pdu(slot)]])

    def _h_cmgl(self, op: str, args: str) -> Reply:
        modem = self._modem
        if op == "=?":
            return Reply([["+CMGL: (0-4)"]])
        if not modem.sim_ready():
            return self._sim_locked_reply(sms=True)
        wanted = int(args or "0")
        if wanted not in (0, 1, 2, 3, 4):
            return Reply(final=self.cms(302))
        records: list[list[str]] = []
        for slot in sorted(modem.read_slots().values(), key=lambda s: s.index):
            stat = int(slot.read)
            if wanted != 4 and stat != wanted:
                continue
            slot.read = True
            records.append([f"+CMGL: {slot.index},{stat},,{tpdu_length(slot.pdu)}", modem.shown_pdu(slot)])
        return Reply(records)

    def _h_cmgd(self, op: str, args: str) -> Reply:
        modem = self._modem
        if op == "=?":
            used = ",".join(str(i) for i in sorted(modem.read_slots()))
            return Reply([[f"+CMGD: ({used}),(0-4)"]])
        if not modem.sim_ready():
            return self._sim_locked_reply(sms=True)
        values = split_args(args)
        flag = int(values[1]) if len(values) > 1 and values[1] else 0
        if flag not in (0, 1, 2, 3, 4):
            return Reply(final=self.cms(302))
        slots = modem.read_slots()
        if flag == 0:
            index = modem.index_arg(values[0])
            if index is None:
                return Reply(final=self.cms(321))
            doomed = [index] if index in slots else []
        else:
            # Only received messages here; 2..4 would also take sent/unsent ones, which we never store.
            doomed = [i for i, s in slots.items() if flag == 4 or s.read]
        for i in doomed:
            modem.delete(i)
        log.debug("deleted; %d message(s) left", len(modem.slots))
        return Reply()

    def _h_cmgs(self, op: str, args: str) -> Reply:
        if op == "=?":
            return Reply()
        if not self._modem.sim_ready():
            return self._sim_locked_reply(sms=True)
        length = int(split_args(args)[0])
        if not 7 <= length <= 164:
            return Reply(final=self.cms(304))
        return Reply(prompt=length)

    # Extended commands by name, dispatched by dispatch().
    _EXTENDED: ClassVar[dict[str, Callable[[AtCommands, str, str], Reply]]] = {
        "+CGMI": _h_cgmi,
        "+GMI": _h_cgmi,
        "+CGMM": _h_cgmm,
        "+GMM": _h_cgmm,
        "+CGMR": _h_cgmr,
        "+GMR": _h_cgmr,
        "+CGSN": _h_cgsn,
        "+GSN": _h_cgsn,
        "+CIMI": _h_cimi,
        "+CCID": _h_ccid,
        "+QCCID": _h_qccid,
        "^ICCID": _h_hw_iccid,
        "+GCAP": _h_gcap,
        "+CMEE": _h_cmee,
        "+CPIN": _h_cpin,
        "+CMGF": _h_cmgf,
        "+CSCS": _h_cscs,
        "+CSDH": _h_csdh,
        "+CSMS": _h_csms,
        "+CSCA": _h_csca,
        "+CPMS": _h_cpms,
        "+CNMI": _h_cnmi,
        "+CNMA": _h_cnma,
        "+CSQ": _h_csq,
        "+CREG": _h_creg,
        "+CGREG": _h_cgreg,
        "+CGATT": _h_cgatt,
        "+CCWA": _h_ccwa,
        "+COPS": _h_cops,
        "+CFUN": _h_cfun,
        "+CLIP": _h_clip,
        "+CRC": _h_crc,
        "+CLCC": _h_clcc,
        "+CHUP": _h_chup,
        "^CURC": _h_curc,
        "^PORTSEL": _h_portsel,
        "+CPBS": _h_cpbs,
        "+CPBR": _h_cpbr,
        "+CMGR": _h_cmgr,
        "+CMGL": _h_cmgl,
        "+CMGD": _h_cmgd,
        "+CMGS": _h_cmgs,
    }
