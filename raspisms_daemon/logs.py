"""Logging set-up: the journal with structured fields when we can, plain stderr otherwise.

Which output :func:`setup_logging` picks (``journal=None``):

- **journal**: systemd-python imports *and* stderr is connected to the journal (``$JOURNAL_STREAM``
  names stderr's ``dev:inode``, which is what systemd sets for ``StandardError=journal``). Records go
  through :class:`JournalFieldsHandler` with ``PRIORITY``, ``SYSLOG_IDENTIFIER``, ``LOGGER``,
  ``CODE_*`` and the context fields (``PHONE_ID=1 SMS_ID=42 WEBHOOK=inbox``) so that
  ``journalctl -u raspisms-daemon PHONE_ID=1`` works.
- **stderr under systemd, without systemd-python**: ``<6>logger: message phone=1 sms=42`` — the
  ``<N>`` sd-daemon(3) prefix gives journald the priority; journald adds the time itself.
- **a terminal or a file**: ``2026-01-02 03:04:05,678 INFO logger: message phone=1 sms=42``.

Context: pass ``extra={"phone_id": 1, "sms_id": 42, "webhook": "inbox"}`` to a log call. Known keys
get short names in plain text (:data:`CONTEXT_FIELDS`); any other extra key whose name is a lowercase
identifier is shown as ``key=value`` and becomes the journal field ``KEY``.

Secrets: :func:`register_secret` (the API key, PINs) and every handler installed here redacts them from
the message, its arguments, the exception text and the context values.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

__all__ = [
    "CONTEXT_FIELDS",
    "REDACTED",
    "JournalFieldsHandler",
    "PlainFormatter",
    "SecretFilter",
    "clear_secrets",
    "context_items",
    "journal_fields",
    "redact",
    "register_secret",
    "set_log_level",
    "setup_logging",
    "stderr_is_journal",
]

REDACTED = "***"
SYSLOG_IDENTIFIER = "raspisms-daemon"

# extra key -> name shown in plain text (the journal field is always the key upper-cased).
CONTEXT_FIELDS: dict[str, str] = {
    "phone_id": "phone",
    "sms_id": "sms",
    "webhook": "webhook",
    "delivery_id": "delivery",
    "outbox_id": "outbox",
    "scheduled_id": "scheduled",
    "call_id": "call",
    "device": "device",
}

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
_EXTRA_KEY = re.compile(r"[a-z][a-z0-9_]*\Z")
# Marks handlers installed by setup_logging so a second call replaces rather than duplicates them.
_OURS = "_raspisms_daemon_handler"


# --- secrets -------------------------------------------------------------------------------------

_secrets_lock = threading.Lock()
_secrets: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None

# Below this length a secret (a 4-digit PIN) is only redacted as a whole token, so that phone numbers
# or ids that merely contain the same digits stay readable; longer ones are redacted anywhere.
_SHORT_SECRET = 8


def register_secret(secret: str) -> None:
    """Never let ``secret`` reach a log output again (empty strings are ignored).

    A long secret is also redacted in the encodings it travels in: base64 (the API key is published
    as ``whsec_<base64>`` for Standard Webhooks) and URL-encoding (a key in a query string).
    """
    global _secret_pattern
    if not secret:
        return
    forms = {secret}
    if len(secret) >= _SHORT_SECRET:
        raw = secret.encode()
        forms |= {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
        forms |= {form.rstrip("=") for form in forms}
        forms.add(urllib.parse.quote(secret, safe=""))
    with _secrets_lock:
        _secrets.update(forms)
        _secret_pattern = _compile(_secrets)


def clear_secrets() -> None:
    """Forget every registered secret (tests)."""
    global _secret_pattern
    with _secrets_lock:
        _secrets.clear()
        _secret_pattern = None


def _compile(secrets: Iterable[str]) -> re.Pattern[str]:
    # Longest first so a secret containing another is redacted whole.
    parts = []
    for secret in sorted(secrets, key=len, reverse=True):
        escaped = re.escape(secret)
        whole_token = rf"(?<![0-9A-Za-z]){escaped}(?![0-9A-Za-z])"
        parts.append(escaped if len(secret) >= _SHORT_SECRET else whole_token)
    return re.compile("|".join(parts))


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by :data:`REDACTED`."""
    pattern = _secret_pattern
    if pattern is None or not text:
        return text
    return pattern.sub(REDACTED, text)


class SecretFilter(logging.Filter):
    """Redacts registered secrets from a record in place (message, args, exception, context values).

    The record's message is rendered once here and the arguments dropped, so no later formatter can
    put a secret back in from an argument's ``repr``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if _secret_pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the raw parts, redacted
            message = f"{record.msg} {record.args}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            # exc_text now carries the (redacted) traceback; the formatter must not rebuild it.
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key in _extra_keys(record):
            value = record.__dict__[key]
            if isinstance(value, str):
                record.__dict__[key] = redact(value)
            elif not isinstance(value, int | float | bool) and value is not None:
                record.__dict__[key] = redact(str(value))
        return True


# --- context and journal fields ------------------------------------------------------------------


def _extra_keys(record: logging.LogRecord) -> list[str]:
    return [k for k in record.__dict__ if k not in _STANDARD_ATTRS and _EXTRA_KEY.match(k)]


def context_items(record: logging.LogRecord) -> list[tuple[str, Any]]:
    """The record's ``extra=`` context as (plain-text name, value), known fields first."""
    keys = _extra_keys(record)
    ordered = [k for k in CONTEXT_FIELDS if k in keys] + sorted(k for k in keys if k not in CONTEXT_FIELDS)
    return [(CONTEXT_FIELDS.get(k, k), record.__dict__[k]) for k in ordered if record.__dict__[k] is not None]


def _syslog_priority(levelno: int) -> int:
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


def journal_fields(record: logging.LogRecord, message: str) -> dict[str, str]:
    """The journal entry for ``record`` (``message`` is the formatted text, traceback included).

    Field names are upper-case ``[A-Z0-9_]`` as journald requires (it silently drops others).
    """
    fields = {
        "MESSAGE": message,
        "PRIORITY": str(_syslog_priority(record.levelno)),
        "SYSLOG_IDENTIFIER": SYSLOG_IDENTIFIER,
        "LOGGER": record.name,
        "CODE_FILE": record.pathname,
        "CODE_LINE": str(record.lineno),
        "CODE_FUNC": record.funcName,
        "THREAD_NAME": record.threadName or "",
    }
    for key in _extra_keys(record):
        value = record.__dict__[key]
        if value is None:
            continue
        name = key.upper()
        if name in fields:  # context never overrides the entry's own metadata
            continue
        fields[name] = str(value)
    return fields


class JournalFieldsHandler(logging.Handler):
    """Sends each record to the journal with :func:`journal_fields` (systemd-python's native protocol).

    systemd-python's own ``JournalHandler`` passes ``extra`` keys through unchanged (``phone_id``), and
    journald drops lower-case field names, so we build the fields ourselves.
    """

    def __init__(self, level: int = logging.NOTSET, *, send: Callable[..., Any] | None = None) -> None:
        super().__init__(level)
        if send is None:
            # Only imported when actually logging to the journal (systemd-python ships no type hints).
            from systemd import journal  # type: ignore[attr-defined]

            send = journal.send
        self._send = send
        # The journal has its own timestamp, priority and identifier: the message is just the message.
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields: dict[str, Any] = journal_fields(record, self.format(record))
            # systemd.journal.send formats CODE_LINE with {:d}: it must be an int there.
            fields["CODE_LINE"] = record.lineno
            self._send(**fields)
        except Exception:
            self.handleError(record)


class PlainFormatter(logging.Formatter):
    """``[<N>]|[time LEVEL ]name: message phone=1 sms=42`` with the record's context appended."""

    def __init__(self, *, syslog_prefix: bool = False) -> None:
        fmt = "%(name)s: %(message)s" if syslog_prefix else "%(asctime)s %(levelname)s %(name)s: %(message)s"
        super().__init__(fmt)
        self._syslog_prefix = syslog_prefix

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = " ".join(f"{name}={value}" for name, value in context_items(record))
        if context:
            head, sep, tail = text.partition("\n")  # context on the first line, before any traceback
            text = f"{head} {context}{sep}{tail}"
        if self._syslog_prefix:
            text = f"<{_syslog_priority(record.levelno)}>{text}"
        return text


# --- set-up --------------------------------------------------------------------------------------


def stderr_is_journal(environ: Mapping[str, str] | None = None, fd: int | None = None) -> bool:
    """True when ``$JOURNAL_STREAM`` names the file behind ``fd`` (stderr by default)."""
    env = os.environ if environ is None else environ
    value = env.get("JOURNAL_STREAM", "")
    dev, _, inode = value.partition(":")
    if not dev.isdigit() or not inode.isdigit():
        return False
    try:
        st = os.fstat(sys.stderr.fileno() if fd is None else fd)
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(inode))


def _journal_importable() -> bool:
    try:
        from systemd import journal  # type: ignore[attr-defined]  # noqa: F401
    except ImportError:
        return False
    return True


def setup_logging(level: str = "info", *, journal: bool | None = None, stream: TextIO | None = None) -> None:
    """Configure the root logger once for the whole process (calling again replaces our handler).

    ``journal``: None = decide (see the module docstring); True = the journal if systemd-python is
    installed (else stderr with ``<N>`` prefixes); False = plain text. ``stream`` (default stderr)
    only applies to plain text; passing one with ``journal=None`` means plain text.
    """
    if level.lower() not in LEVELS:
        raise ValueError(f"unknown log level {level!r} (expected one of {', '.join(LEVELS)})")
    under_journal = stderr_is_journal()
    if journal is None:
        journal = stream is None and under_journal and _journal_importable()
    handler: logging.Handler
    if journal and _journal_importable():
        handler = JournalFieldsHandler()
    else:
        target = stream if stream is not None else sys.stderr
        handler = logging.StreamHandler(target)
        syslog_prefix = bool(journal) or (stream is None and under_journal)
        handler.setFormatter(PlainFormatter(syslog_prefix=syslog_prefix))
    handler.addFilter(SecretFilter())
    setattr(handler, _OURS, True)

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    set_log_level(level)


def set_log_level(level: str) -> None:
    """The root logger's level (``[daemon] log_level``; also what a reload changes)."""
    try:
        levelno = LEVELS[level.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r} (expected one of {', '.join(LEVELS)})") from None
    logging.getLogger().setLevel(levelno)
    # aiohttp's access log repeats every local API call at INFO; keep it for debugging only.
    logging.getLogger("aiohttp.access").setLevel(max(levelno, logging.WARNING))
    # aiosqlite logs every statement with its parameters (message texts, numbers) at DEBUG: far too
    # much for a Pi's journal even when debugging the daemon itself.
    logging.getLogger("aiosqlite").setLevel(max(levelno, logging.INFO))
