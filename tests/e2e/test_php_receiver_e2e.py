"""Both webhook flavours end to end, checked by a PHP receiver as RaspiSMS users write them.

The daemon runs on a simulated modem; PHP's built-in server (``php -S``) runs
tests/helpers/raspisms_receiver.php, which verifies the signature with ``hash_hmac``, decodes the body
with ``json_decode``, and checks it: for ``flavor = raspisms``, that ``json_encode`` of the array rebuilt
the way RaspiSMS 3.9.5's code builds it gives the very bytes received; for ``documented``, the keys,
order, types and words of RaspiSMS's documentation.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from raspisms_daemon.config import SmsStopConfig, WebhookConfig
from tests.helpers.daemon_process import API_KEY, poll_until, running_daemon
from tests.helpers.machine import needs

RECEIVER = Path(__file__).resolve().parents[1] / "helpers" / "raspisms_receiver.php"
TYPES = ("receive_sms", "send_sms", "send_sms_status_change", "inbound_call")

pytestmark = needs(shutil.which("php"), "php", "php-cli")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def php_receiver(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``(base URL, log file)`` of a running ``php -S`` with the receiver script."""
    log = tmp_path / "php-receiver.jsonl"
    log.touch()
    port = _free_port()
    env = {**os.environ, "RASPISMS_API_KEY": API_KEY, "RECEIVER_LOG": str(log)}
    proc = subprocess.Popen(
        ["php", "-S", f"127.0.0.1:{port}", str(RECEIVER)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("php -S exited") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", log
    finally:
        proc.terminate()
        proc.wait(10)


def _lines(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


async def test_a_php_receiver_accepts_both_flavors_byte_for_byte(
    tmp_path: Path, php_receiver: tuple[str, Path]
) -> None:
    base, log = php_receiver
    hooks = (
        WebhookConfig("php-code", f"{base}/raspisms", types=frozenset(TYPES), flavor="raspisms"),
        WebhookConfig("php-doc", f"{base}/documented", types=frozenset(TYPES[:3]), flavor="documented"),
    )
    stop = SmsStopConfig(reply="OK {{ contact_metas.number }}: no more SMS / plus de SMS")
    async with running_daemon(
        tmp_path, api=True, extra_webhooks=hooks, config_overrides={"sms_stop": stop}
    ) as env:
        # An inbound SMS with characters JSON and PHP escape (non-ASCII, an emoji, a slash)...
        await env.sims[0].inject_sms("+33612345678", "Héllo 👋 a/b & <c>")
        # ...an SMS sent through the API, templated, with a tag...
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{env.daemon.api_url}/api/scheduled/",
                data=[
                    ("api_key", API_KEY),
                    ("text", "Bonjour {{ contact.firstname }} ✅"),
                    ("numbers[0][number]", "+33698765432"),
                    ("numbers[0][data]", '{"firstname": "Zoé"}'),
                    ("tag", "campaign/1"),
                ],
            ) as resp:
                assert resp.status == 201, await resp.text()
        # ...a STOP, whose reply is sent, and a call.
        await env.sims[0].inject_sms("+33611111111", "STOP")
        await env.sims[0].ring("+33622222222")
        await env.wait_type("send_sms_status_change", n=2, within=30)
        await env.wait_type("inbound_call", within=15)

        # raspisms: 2 receive_sms, 2 send_sms, 2 status changes, 1 call; documented: the same but the call.
        await poll_until(lambda: len(_lines(log)) >= 13, within=30)
    lines = _lines(log)
    assert [line for line in lines if not line["ok"]] == []
    code = {(str(line["type"]), str(line["body"])) for line in lines if line["flavor"] == "raspisms"}
    doc = [json.loads(str(line["body"])) for line in lines if line["flavor"] == "documented"]
    # What the PHP side checked byte for byte is what RaspiSMS sends: spot-check a few values here.
    received = [json.loads(b) for t, b in code if t == "receive_sms"]
    assert {r["text"] for r in received} == {"Héllo 👋 a/b & <c>", "STOP"}
    assert any("a\\/b" in b for t, b in code if t == "receive_sms")  # PHP's escaped slash
    sent = sorted((json.loads(b) for t, b in code if t == "send_sms"), key=lambda s: s["id"])
    assert [s["text"] for s in sent] == ["Bonjour Zoé ✅", "OK +33611111111: no more SMS / plus de SMS"]
    assert all("tag" not in s for s in sent)
    doc_sent = sorted((d for d in doc if "originating_scheduled" in d), key=lambda s: s["id"])
    assert [d["tag"] for d in doc_sent] == ["campaign/1", "SMS_STOP"]
    assert {d["status"] for d in doc if set(d) == {"id", "status"}} == {"success"}
    assert {json.loads(b)["status"] for t, b in code if t == "send_sms_status_change"} == {"delivered"}
