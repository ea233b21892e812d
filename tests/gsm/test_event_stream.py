"""The event stream both backends hand their events over with, and their memory of emitted messages."""

from __future__ import annotations

import asyncio

import pytest

from raspisms_daemon.gsm.event_stream import EmittedMessages, EventStream, MessageKey
from raspisms_daemon.gsm.modem import CallEnded, ModemEvent, SignalChanged


async def _read(stream: EventStream) -> list[ModemEvent]:
    return [event async for event in stream.events()]


async def test_events_come_out_in_order_and_the_stream_ends_for_every_reader() -> None:
    stream = EventStream()
    stream.emit(SignalChanged(10))
    stream.emit(CallEnded())
    stream.close()
    stream.close()  # twice is fine
    stream.emit(SignalChanged(11))  # after close: dropped
    assert await asyncio.wait_for(_read(stream), 1) == [SignalChanged(10), CallEnded()]
    assert await asyncio.wait_for(_read(stream), 1) == []  # a second reader ends too


async def test_a_waiting_reader_ends_when_the_stream_closes() -> None:
    stream = EventStream()
    readers = [asyncio.create_task(_read(stream)) for _ in range(2)]
    await asyncio.sleep(0)
    stream.emit(SignalChanged(5))
    stream.close()
    results = await asyncio.wait_for(asyncio.gather(*readers), 1)
    assert sorted(results, key=len) == [[], [SignalChanged(5)]]  # each event goes to one reader


def _emitted(*keys: MessageKey) -> EmittedMessages:
    emitted = EmittedMessages()
    for key in keys:
        emitted.add(key)
    return emitted


@pytest.mark.parametrize(
    ("keys", "probe", "aliases", "seen"),
    [
        ([], ("SM", 1, "AA"), (), False),
        ([("SM", 1, "AA")], ("SM", 1, "AA"), (), True),
        ([("SM", 1, "AA")], ("SM", 1, "BB"), (), False),  # a new message in a freed slot
        ([("SM", 1, "AA")], ("SM", 2, "AA"), (), False),
        ([("SM", 1, "AA")], ("ME", 1, "AA"), (), False),  # another storage, unrelated
        ([("SM", 1, "AA")], ("MT", 1, "AA"), ("SM", "ME"), True),  # the same message through an alias
        ([("SM", 1, "AA")], ("MT", 1, "BB"), ("SM", "ME"), False),
        ([("SM", 1, "AA")], ("MT", 2, "AA"), ("SM", "ME"), False),
    ],
)
def test_seen(keys: list[MessageKey], probe: MessageKey, aliases: tuple[str, ...], seen: bool) -> None:
    assert _emitted(*keys).seen(probe, aliases) is seen


@pytest.mark.parametrize(
    ("keys", "deleted", "left"),
    [
        ([("SM", 1, "AA"), ("SM", 2, "BB")], ("SM", 1), {("SM", 2, "BB")}),
        ([("SM", 1, "AA")], ("SM", 9), {("SM", 1, "AA")}),
        # The same message seen at that index under an alias is forgotten with it…
        ([("SM", 1, "AA"), ("MT", 1, "AA")], ("MT", 1), set()),
        # …but another message at the same index of another storage is not.
        ([("SM", 1, "AA"), ("ME", 1, "CC")], ("SM", 1), {("ME", 1, "CC")}),
        ([("1", 100001, "x|y"), ("2", 100001, "z")], ("1", 100001), {("2", 100001, "z")}),
    ],
)
def test_forget(keys: list[MessageKey], deleted: tuple[str, int], left: set[MessageKey]) -> None:
    emitted = _emitted(*keys)
    emitted.forget(*deleted)
    assert {k for k in keys if emitted.seen(k)} == left


def test_keep_only_and_clear() -> None:
    emitted = _emitted(("1", 1, "a"), ("1", 2, "b"))
    emitted.keep_only([("1", 2, "b"), ("1", 3, "c")])
    assert (emitted.seen(("1", 1, "a")), emitted.seen(("1", 2, "b")), emitted.seen(("1", 3, "c"))) == (
        False,
        True,
        False,
    )
    emitted.clear()
    assert not emitted.seen(("1", 2, "b"))
