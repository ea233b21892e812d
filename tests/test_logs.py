"""Logging: plain text with context, secrets never written, journal fields (checked by a real journald)."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import subprocess
import sys
import textwrap
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from raspisms_daemon import logs
from raspisms_daemon.logs import (
    JournalFieldsHandler,
    SecretFilter,
    clear_secrets,
    journal_fields,
    register_secret,
    setup_logging,
    stderr_is_journal,
)
from tests.helpers.machine import can_unshare, import_or_skip, needs

API_KEY = "k3y-0123456789abcdef0123456789abcdef"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    clear_secrets()
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    clear_secrets()


def _plain(level: str = "debug") -> io.StringIO:
    out = io.StringIO()
    setup_logging(level, journal=False, stream=out)
    return out


def test_plain_lines_carry_level_logger_message_and_context() -> None:
    out = _plain()
    logging.getLogger("raspisms_daemon.phones").info(
        "SMS stored", extra={"phone_id": 1, "sms_id": 42, "webhook": "inbox"}
    )
    line = out.getvalue().strip()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} "
        r"INFO raspisms_daemon\.phones: SMS stored phone=1 sms=42 webhook=inbox",
        line,
    ), line


def test_unknown_extra_keys_are_shown_too_and_none_values_are_left_out() -> None:
    out = _plain()
    logging.getLogger("t").warning("x", extra={"attempt": 3, "sms_id": None, "phone_id": 2})
    assert out.getvalue().strip().endswith("WARNING t: x phone=2 attempt=3")


def test_context_goes_on_the_first_line_before_the_traceback() -> None:
    out = _plain()
    try:
        raise RuntimeError("modem gone")
    except RuntimeError:
        logging.getLogger("t").exception("reopening", extra={"phone_id": 3})
    first, *rest = out.getvalue().splitlines()
    assert first.endswith("ERROR t: reopening phone=3")
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "RuntimeError: modem gone"


def test_level_filters_and_an_unknown_level_is_refused() -> None:
    out = _plain("warning")
    logging.getLogger("t").info("hidden")
    logging.getLogger("t").warning("shown")
    assert "hidden" not in out.getvalue() and "shown" in out.getvalue()
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        setup_logging("loud", stream=io.StringIO())


def test_setting_up_twice_replaces_the_handler_instead_of_doubling_lines() -> None:
    _plain()
    out = _plain()
    logging.getLogger("t").info("once")
    assert out.getvalue().count("once") == 1
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_raspisms_daemon_handler", False)]
    assert len(ours) == 1


# --- secrets ---------------------------------------------------------------------------------------


def test_a_registered_api_key_never_reaches_the_output() -> None:
    out = _plain()
    register_secret(API_KEY)
    log = logging.getLogger("raspisms_daemon.api")
    log.info("key in the message " + API_KEY)
    log.info("key as an argument %s / %r", API_KEY, {"X-Api-Key": API_KEY})
    log.info("key in the context", extra={"webhook": f"https://x/?k={API_KEY}", "header": API_KEY.encode()})
    try:
        raise ValueError(f"bad key {API_KEY}")
    except ValueError:
        log.exception("key in the traceback")
    log.info("key in the stack", stack_info=True, extra={"note": API_KEY})
    text = out.getvalue()
    assert API_KEY not in text
    assert text.count("***") >= 6


def test_the_api_key_is_redacted_in_its_base64_and_url_encoded_forms_too() -> None:
    key = "k3y+/with=odd&chars-0123456789"
    out = _plain()
    register_secret(key)
    whsec = "whsec_" + base64.b64encode(key.encode()).decode()
    unpadded = base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")
    quoted = urllib.parse.quote(key, safe="")
    logging.getLogger("t").info("secret %s; url ?key=%s; %s", whsec, quoted, unpadded)
    text = out.getvalue()
    assert "whsec_***" in text
    for form in (key, whsec[6:], quoted, unpadded):
        assert form not in text


def test_short_secrets_such_as_pins_are_redacted_only_as_whole_tokens() -> None:
    out = _plain()
    register_secret("1234")
    logging.getLogger("t").info('AT+CPIN="1234" sent; SMS from +33612341234, pin 1234.')
    assert out.getvalue().split(": ", 1)[1].strip() == 'AT+CPIN="***" sent; SMS from +33612341234, pin ***.'


def test_a_secret_containing_another_is_redacted_whole() -> None:
    register_secret("abcdefgh")
    register_secret("abcdefgh-and-more")
    assert logs.redact("x abcdefgh-and-more y abcdefgh z") == "x *** y *** z"


def test_the_filter_also_protects_handlers_added_by_others() -> None:
    # A record is redacted in place, so a second handler (pytest's, a debug file) gets the clean one.
    register_secret(API_KEY)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(SecretFilter())
    other = io.StringIO()
    log = logging.getLogger("t.filter")
    log.addHandler(handler)
    log.addHandler(logging.StreamHandler(other))
    try:
        log.warning("key=%s", API_KEY)
    finally:
        log.handlers.clear()
    assert out.getvalue() == "key=***\n" and other.getvalue() == "key=***\n"


def test_without_secrets_the_record_is_left_alone() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "n=%d", (5,), None)
    assert SecretFilter().filter(record) and record.args == (5,)


# --- journal fields --------------------------------------------------------------------------------


def _record(level: int = logging.INFO, **extra: object) -> logging.LogRecord:
    record = logging.getLogger("raspisms_daemon.phones").makeRecord(
        "raspisms_daemon.phones", level, "/x/phones.py", 7, "received", (), None, "handle", extra
    )
    return record


def test_context_becomes_upper_case_journal_fields() -> None:
    fields = journal_fields(_record(phone_id=1, sms_id=42, webhook="inbox", attempt=2), "received")
    assert fields["MESSAGE"] == "received"
    context = (fields["PHONE_ID"], fields["SMS_ID"], fields["WEBHOOK"], fields["ATTEMPT"])
    assert context == ("1", "42", "inbox", "2")
    assert fields["PRIORITY"] == "6" and fields["SYSLOG_IDENTIFIER"] == "raspisms-daemon"
    assert (fields["CODE_FILE"], fields["CODE_LINE"], fields["CODE_FUNC"]) == ("/x/phones.py", "7", "handle")
    # journald drops any other field name without a word; none of ours may be like that.
    assert all(re.fullmatch(r"[A-Z0-9][A-Z0-9_]*", name) for name in fields)


@pytest.mark.parametrize(
    ("level", "priority"),
    [
        (logging.DEBUG, "7"),
        (logging.INFO, "6"),
        (logging.WARNING, "4"),
        (logging.ERROR, "3"),
        (logging.CRITICAL, "2"),
    ],
)
def test_levels_map_to_syslog_priorities(level: int, priority: str) -> None:
    assert journal_fields(_record(level), "m")["PRIORITY"] == priority


def test_context_cannot_override_the_entry_metadata() -> None:
    fields = journal_fields(_record(priority="0", logger="forged", syslog_identifier="sshd"), "real")
    assert (fields["PRIORITY"], fields["LOGGER"], fields["SYSLOG_IDENTIFIER"]) == (
        "6",
        "raspisms_daemon.phones",
        "raspisms-daemon",
    )


# --- choosing the output ---------------------------------------------------------------------------


def test_stderr_is_journal_compares_journal_stream_with_the_fd(tmp_path: Path) -> None:
    with open(tmp_path / "stream", "w") as f:
        st = os.fstat(f.fileno())
        assert stderr_is_journal({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}, f.fileno())
        assert not stderr_is_journal({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"}, f.fileno())
        assert not stderr_is_journal({"JOURNAL_STREAM": "garbage"}, f.fileno())
        assert not stderr_is_journal({}, f.fileno())


def _child_stderr(tmp_path: Path, code: str, *, journal_stream: bool) -> str:
    """Run ``code`` in a child whose stderr is a file, optionally announced as the journal stream."""
    path = tmp_path / "stderr"
    with open(path, "w") as err:
        env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
        if journal_stream:
            st = os.fstat(err.fileno())
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        subprocess.run([sys.executable, "-c", code], stderr=err, env=env, check=True, timeout=30)
    return path.read_text()


def test_under_systemd_without_the_journal_library_lines_get_sd_daemon_priority_prefixes(
    tmp_path: Path,
) -> None:
    code = textwrap.dedent(
        """
        import logging
        from raspisms_daemon.logs import setup_logging
        setup_logging("info", journal=False)
        logging.getLogger("raspisms_daemon.t").warning("hello", extra={"phone_id": 1})
        """
    )
    assert _child_stderr(tmp_path, code, journal_stream=True) == "<4>raspisms_daemon.t: hello phone=1\n"
    assert re.fullmatch(
        r"\S+ \S+ WARNING raspisms_daemon\.t: hello phone=1\n",
        _child_stderr(tmp_path, code, journal_stream=False),
    )


def test_journal_is_chosen_only_when_stderr_is_the_journal(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import logging, sys
        from raspisms_daemon.logs import setup_logging
        setup_logging("info")
        ours = [h for h in logging.getLogger().handlers if hasattr(h, "_raspisms_daemon_handler")]
        print(" ".join(type(h).__name__ for h in ours), file=sys.stderr)
        """
    )
    import_or_skip("systemd.journal", "python-systemd", "python3-systemd")
    assert _child_stderr(tmp_path, code, journal_stream=True).strip() == "JournalFieldsHandler"
    assert _child_stderr(tmp_path, code, journal_stream=False).strip() == "StreamHandler"


def test_journal_handler_hands_the_fields_to_its_sender() -> None:
    sent: list[dict[str, str]] = []
    handler = JournalFieldsHandler(send=lambda **fields: sent.append(fields))
    handler.emit(_record(phone_id=5))
    assert sent[0]["MESSAGE"] == "received" and sent[0]["PHONE_ID"] == "5"


# --- a real journald ---------------------------------------------------------------------------------

JOURNALD = Path("/lib/systemd/systemd-journald")

JOURNALD_CONF = """\
[Journal]
Storage=volatile
ReadKMsg=no
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
"""

# Runs in a private mount namespace: journald's sockets and files land on tmpfs mounts that vanish
# with the namespace, and the host's journal (if any) is never touched.
NAMESPACE_SCRIPT = """\
set -eu
mount -n -t tmpfs tmpfs /run
[ -d /var/log/journal ] && mount -n -t tmpfs tmpfs /var/log/journal
mount -n --bind "$CONF" /etc/systemd/journald.conf
mkdir -p /run/systemd/journal /run/log/journal
/lib/systemd/systemd-journald >"$OUT/journald.log" 2>&1 &
jpid=$!
trap 'kill $jpid; wait $jpid || true' EXIT
i=0
while [ ! -S /run/systemd/journal/socket ]; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "journald did not start" >&2; exit 1; }
  sleep 0.05
done
"$PYTHON" -c "$CHILD"
i=0
while :; do
  journalctl -D /run/log/journal -o json --no-pager SYSLOG_IDENTIFIER=raspisms-daemon >"$OUT/entries.json"
  [ -s "$OUT/entries.json" ] && break
  i=$((i + 1)); [ $i -lt 60 ] || break
  sleep 0.05
done
"""

# The key comes from the environment: journald records the command line (_CMDLINE), not the environment.
CHILD = """
import logging, os
from raspisms_daemon.logs import register_secret, setup_logging
register_secret(os.environ["API_KEY"])
setup_logging("debug", journal=True)
logging.getLogger("raspisms_daemon.phones").warning(
    "received with key %s", os.environ["API_KEY"], extra={"phone_id": 1, "sms_id": 42, "webhook": "inbox"}
)
"""


@needs(JOURNALD.exists(), "systemd-journald", "systemd")
@pytest.mark.skipif(
    not can_unshare(), reason="needs root and mount namespaces (unshare -m) to run a journald"
)
def test_a_real_journald_stores_the_context_fields_and_no_secret(tmp_path: Path) -> None:
    import_or_skip("systemd.journal", "python-systemd", "python3-systemd")
    conf = tmp_path / "journald.conf"
    conf.write_text(JOURNALD_CONF)
    env = {
        **os.environ,
        "CONF": str(conf),
        "OUT": str(tmp_path),
        "PYTHON": sys.executable,
        "CHILD": CHILD,
        "API_KEY": API_KEY,
        "PYTHONPATH": str(REPO),
    }
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", NAMESPACE_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr + (tmp_path / "journald.log").read_text()
    raw = (tmp_path / "entries.json").read_text()
    entries = [json.loads(line) for line in raw.splitlines()]
    assert len(entries) == 1, raw
    entry = entries[0]
    assert entry["MESSAGE"] == "received with key ***"
    assert (entry["PHONE_ID"], entry["SMS_ID"], entry["WEBHOOK"]) == ("1", "42", "inbox")
    assert entry["PRIORITY"] == "4" and entry["LOGGER"] == "raspisms_daemon.phones"
    assert entry["_TRANSPORT"] == "journal"
    assert API_KEY not in raw
