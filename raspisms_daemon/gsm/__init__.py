"""Everything that talks to a GSM modem, up to the backend interface (docs/design.md §5).

Pure core (no I/O): :mod:`.pdu` and :mod:`.gsm7` (the SMS PDU codec), :mod:`.at_protocol` (the AT
dialogue, sans-I/O), :mod:`.call_tracker` (RING/+CLIP/end of call), :mod:`.gammu_convert` (python-gammu
dicts ↔ our types), :mod:`.policy` (PIN and reconnect decisions both backends share). The interface:
:mod:`.modem` (:class:`~.modem.ModemBackend` and its events), with :mod:`.event_stream` (the stream
and the emitted-message memory both backends use). Backends: :mod:`.serial_at` (over
:mod:`.at_transport`) and :mod:`.gammu_backend` (over :mod:`.gammu_worker`). The virtual modem that
imitates them lives apart, in :mod:`raspisms_daemon.simulator`.

The API lives in those modules (each has its ``__all__``); the package re-exports nothing, so that
importing the pure codec never drags in pyserial, asyncio or python-gammu.
"""

__all__ = ["at_protocol", "gammu_backend", "gsm7", "modem", "pdu", "serial_at"]
