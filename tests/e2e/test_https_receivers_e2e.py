"""https receivers end to end, from the config file: a private CA trusted through a webhook's ca_file
(relative to the config file), another receiver with ``verify = no``, warned about at start, once; a
third whose certificate nobody vouches for gets nothing. Simulator → daemon process → receivers."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from raspisms_daemon.simulator import Simulator
from tests.helpers.daemon_process import API_KEY, DaemonProcess, poll_until, write_config
from tests.helpers.ledger import Ledger, inbound
from tests.helpers.receiver import FaultyReceiver
from tests.helpers.tls import make_pki


@pytest.mark.timeout(120)
async def test_a_private_ca_through_ca_file_and_verify_no_from_the_config_file(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki", name="receiver")
    private = FaultyReceiver(API_KEY, ssl_context=pki.server_context())
    insecure = FaultyReceiver(API_KEY, ssl_context=pki.server_context())
    untrusted = FaultyReceiver(API_KEY, ssl_context=pki.server_context())
    for rx in (private, insecure, untrusted):
        await rx.start()
    sim = Simulator(tmp_path / "modem", capacity=50)
    await sim.start()
    config = write_config(
        tmp_path / "config.ini",
        database=tmp_path / "daemon.sqlite3",
        api_listen=f"unix:{tmp_path / 'api.sock'}",
        phones=[{"id": 1, "device": str(sim.link)}],
        webhooks=[
            {"name": "private", "url": private.url, "ca_file": "pki/receiver-ca.pem"},
            {"name": "insecure", "url": insecure.url, "verify": "no"},
            {"name": "untrusted", "url": untrusted.url},
        ],
    )
    daemon = DaemonProcess(config, tmp_path / "api.sock")
    ledger = Ledger("tls")
    try:
        await daemon.start(phones_connected=1)
        await inbound(sim, ledger, 3, pace=0.01, rng=random.Random(11))
        await private.wait_for(lambda: ledger.complete(private), 30)
        await insecure.wait_for(lambda: ledger.complete(insecure), 30)
        # The untrusted receiver's first attempt has failed (its CA check runs after the system's CAs
        # are read, in a thread) before the daemon stops.
        await poll_until(lambda: "CERTIFICATE_VERIFY_FAILED" in daemon.log.read_text(), within=30)
        assert await daemon.stop() == 0
        log = daemon.log.read_text()
    finally:
        daemon.kill() if daemon.proc is not None and daemon.proc.returncode is None else None
        await sim.stop()
        for rx in (private, insecure, untrusted):
            await rx.stop()
    assert ledger.verdict(private, sim).clean and ledger.verdict(insecure, sim).clean
    assert untrusted.requests == []  # the system's CAs do not know the private one
    assert "CERTIFICATE_VERIFY_FAILED" in log and "webhook=untrusted" in log
    warnings = [line for line in log.splitlines() if "verification is OFF" in line]
    assert len(warnings) == 1 and "webhook=insecure" in warnings[0], warnings
