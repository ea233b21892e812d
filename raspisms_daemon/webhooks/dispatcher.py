"""Delivers outbox rows: claim due rows under a lease, POST them, record every attempt, reschedule.

How the guarantees are kept:

- A claimed row gets ``next_attempt_at = lease_until = now + lease``; if this process dies, the row is
  simply due again when the lease runs out (at least once, never lost).
- Results are committed in batches (one transaction per batch, not per delivery); until its result is
  committed a row stays leased, so a crash between the POST and the commit means one more delivery
  with the same random id, never a lost one.
- Rows are claimed in batches into a small per-webhook buffer; deliveries run with a global and a
  per-webhook concurrency limit, so a stalled endpoint only ever occupies its own slots.
- Redirects: a 307 or 308 is followed (up to ``MAX_REDIRECTS``) with the same body and signatures, as
  RaspiSMS's HTTP client (Guzzle) follows it; a 301, 302 or 303 would turn the POST into a GET without
  its body, so it is a failed attempt whose error (and log line) names the ``Location`` to configure.
- Bounded memory per delivery: of an answer, only the status, the headers aiohttp bounds and at most
  ``RESPONSE_PREFIX`` bytes of the body are read (quoted in the error of a non-2xx answer). A connection
  whose body did not end within them is closed, never drained, never reused; a body that trickles holds
  its slot until the delivery timeout at most, and the answer's status stands.
- A failure on this machine (no file descriptor left, out of memory…: ``results.error_kind``) does not
  count against the receiver: the attempt is logged as local, the row is due again after
  ``results.local_delay`` (1 s growing to 60 s while it lasts), and that webhook's deliveries wait as long,
  so a machine in trouble tries each webhook once a minute at most, with an error in the log each time.
- https: each webhook trusts the system's CAs, its own ``ca_file`` instead, or (``verify = no``) nobody,
  which is warned about when the dispatcher first sees such a webhook (:mod:`.tls`).
- Its own transactions (leases, results, pruning) are not durable on their own (``synchronous=NORMAL``,
  no fsync): a power cut can only undo progress, which means sending a webhook once more. What a modem
  or a user hands in is committed with a full fsync by the other parts, and that fsync covers these too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

import aiohttp
import aiosqlite
from yarl import URL

from .. import __version__
from ..clock import Clock, SystemClock, sleep_or_until, within
from ..config import DeliveryConfig
from ..store import outbox as outbox_store
from ..store import webhooks as webhook_store
from ..store.db import Database
from . import events, signing
from .results import AttemptResult, ErrorKind, Failure, decide, error_kind, is_success
from .tls import TrustError, TrustStore

__all__ = ["MAX_REDIRECTS", "RESPONSE_PREFIX", "USER_AGENT", "Dispatcher", "DispatcherState", "Transport"]

log = logging.getLogger("raspisms_daemon.dispatcher")

USER_AGENT = f"raspisms-daemon/{__version__}"
MAX_REDIRECTS = 3  # 307/308 hops followed for one attempt
_FOLLOWED = frozenset({307, 308})  # the redirects that keep the method and the body
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
RESPONSE_PREFIX = 1024  # bytes of an answer's body read at most: enough for a log line
_QUOTED = 200  # characters of that prefix quoted in a failed attempt's error
_FAR = float("inf")


# A delivery path other than HTTP, by webhook kind (the MQTT broker's, raspisms_daemon/mqtt/link.py): it
# gets the row and its JSON rendering, and answers (status, error) as an HTTP attempt would (2xx =
# delivered); retries, dead letters and replay are the outbox's, the same for every kind.
Transport = Callable[[outbox_store.Claimed, bytes], Awaitable[tuple[int | None, str | None]]]


class DispatcherState(Enum):
    NEW = "new"
    RUNNING = "running"
    STOPPED = "stopped"


class _Hook(NamedTuple):
    id: int
    name: str
    url: str
    format: str
    enabled: bool
    flavor: str
    ca_file: str | None = None
    verify: bool = True
    kind: str = "http"


_Row = outbox_store.Claimed


class _Result(NamedTuple):
    row: _Row
    at: float
    status: int | None
    error: str | None
    duration_ms: float
    retry_after: str | None
    failure: Failure | None = None  # how an attempt with no answer failed
    os_errno: int | None = None  # and the OS error (or EAI_* code) behind it

    @property
    def ok(self) -> bool:
        return is_success(self.status)

    @property
    def local(self) -> bool:
        return self.status is None and error_kind(self.failure, self.os_errno) is ErrorKind.LOCAL


@dataclass
class _HookState:
    queue: deque[_Row] = field(default_factory=deque)
    held: set[int] = field(default_factory=set)  # queued + in flight + result not yet committed
    running: int = 0
    next_due: float = 0.0  # earliest pending row not held, as last seen (0 = look again)
    paused_until: float = 0.0  # after a local failure: nothing is sent to it before then
    local_since: float | None = None  # when its current run of local failures began

    @property
    def active(self) -> int:
        """Claimed and not finished: queued or in flight."""
        return len(self.queue) + self.running


class Dispatcher:
    """Owns the delivery of every outbox row while :meth:`run` runs.

    ``api_key`` signs the Standard Webhooks headers of each attempt (the RaspiSMS signature is stored
    with the row). ``lease`` defaults to long enough for a buffered row to wait its turn and be sent.
    """

    def __init__(
        self,
        db: Database,
        session: aiohttp.ClientSession,
        delivery: DeliveryConfig,
        *,
        clock: Clock | None = None,
        api_key: str = "",
        lease: float | None = None,
        batch_size: int = 256,
        flush_interval: float = 0.02,
        poll_interval: float = 5.0,
        prune_interval: float = 600.0,
        prune_batch: int = 500,
        rng: random.Random | None = None,
        transports: dict[str, Transport] | None = None,
    ) -> None:
        self._db = db
        self._transports = dict(transports or {})
        self._session = session
        self._cfg = delivery
        self._clock: Clock = clock or SystemClock()
        self._api_key = api_key
        self._buffer = max(1, delivery.per_webhook_concurrency) * 4
        self._global_buffer = max(1, delivery.concurrency) * 4
        self._lease = lease if lease is not None else 5 * (delivery.timeout + delivery.connect_timeout) + 30.0
        self._batch = batch_size
        self._flush_interval = flush_interval
        self._poll = poll_interval
        self._prune_interval = prune_interval
        self._prune_batch = prune_batch
        self._rng = rng or random.Random()
        self._timeout = aiohttp.ClientTimeout(total=delivery.timeout, connect=delivery.connect_timeout)
        self._hooks: dict[int, _Hook] = {}
        self._hooks_loaded_at = -_FAR
        self._state: dict[int, _HookState] = {}
        self._running_total = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._results: list[_Result] = []
        self._results_ready = asyncio.Event()
        self._committing: asyncio.Future[None] | None = None
        self._gone: set[int] = set()  # answered 410, disable not committed yet
        self._kick = asyncio.Event()
        self._trust = TrustStore()
        self._insecure_told: set[int] = set()  # webhooks with verify = no already warned about
        # Webhooks whose backlog may sit out a backoff; a 2xx from them makes that backlog due at once.
        # Unknown at start (a restart during an outage), hence "every webhook" until its first 2xx.
        self._maybe_failing: set[int] | None = None
        self._backlog = 0
        self._backlog_at = -_FAR
        self._backlog_stale = False
        self._attempts_total = dict.fromkeys(AttemptResult, 0)
        self.status = DispatcherState.NEW

    # -- public -------------------------------------------------------------------------------------

    def wake(self) -> None:
        """New rows were committed (or replayed): look for due rows now."""
        for st in self._state.values():
            st.next_due = 0.0
        self._hooks_loaded_at = -_FAR
        self._backlog_stale = True
        self._kick.set()

    def backlog(self) -> int:
        """Pending rows, as last counted (refreshed about once a second while running)."""
        return self._backlog

    def attempts_total(self) -> dict[AttemptResult, int]:
        """Attempts recorded since this dispatcher was made, by result; only ever grows (a Prometheus
        counter). Counted once the attempt is committed, so it agrees with ``delivery_attempt``."""
        return dict(self._attempts_total)

    async def run(self) -> None:
        """Deliver until cancelled. Cancel-safe: unsent claimed rows are released, the rest come back."""
        if self.status is not DispatcherState.NEW:
            raise RuntimeError(f"dispatcher is {self.status.value}, it runs once")
        self.status = DispatcherState.RUNNING
        if not self._api_key:
            log.warning("no API key given to the dispatcher: webhook-signature headers will not verify")
        try:
            try:
                await self._refresh_backlog(force=True)
            except Exception as exc:
                if not self._db.health.report(exc):
                    raise
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._claim_loop(), name="dispatcher-claim")
                tg.create_task(self._flush_loop(), name="dispatcher-flush")
                tg.create_task(self._prune_loop(), name="dispatcher-prune")
        finally:
            self.status = DispatcherState.STOPPED
            await asyncio.shield(self._shutdown())

    async def prune_once(self) -> int:
        """Delete delivered rows older than the retention, in small transactions; returns how many."""
        before = self._clock.time() - self._cfg.retention
        total = 0
        while True:
            async with self._db.transaction(durable=False) as conn:
                n = await outbox_store.prune_delivered(conn, before=before, batch=self._prune_batch)
            total += n
            if n < self._prune_batch:
                break
            await asyncio.sleep(0)  # let deliveries and modem transactions in between batches
        if total:
            log.info("pruned %d delivered rows older than %.0f s", total, self._cfg.retention)
        return total

    # -- claiming -----------------------------------------------------------------------------------

    async def _load_hooks(self) -> None:
        # On the read-only connection: a webhook being created (or removed) in a transaction that may
        # still roll back is not seen before its commit.
        hooks = {
            h.id: _Hook(
                h.id,
                h.name,
                h.url,
                h.format,
                h.enabled and h.id not in self._gone,
                h.flavor,
                h.ca_file,
                h.verify,
                h.kind,
            )
            for h in await webhook_store.list_webhooks(self._db.reads.conn)
        }
        for hook in hooks.values():
            if hook.verify or not hook.enabled:
                self._insecure_told.discard(hook.id)
            elif hook.id not in self._insecure_told:
                self._insecure_told.add(hook.id)
                log.warning(
                    "TLS certificate verification is OFF for this webhook (verify = no): anyone on the way "
                    "can read and forge its deliveries; give it a ca_file to trust its own CA instead",
                    extra={"webhook": hook.name},
                )
        if self._maybe_failing is None:
            self._maybe_failing = set(hooks)
        self._maybe_failing |= set(hooks) - set(self._hooks)
        self._hooks = hooks
        self._hooks_loaded_at = self._clock.monotonic()
        gone = [h for h, st in self._state.items() if st.queue and (h not in hooks or not hooks[h].enabled)]
        if gone:
            # Disabled (by the CLI, say) while rows sat in our buffer: hand them back, still pending.
            async with self._db.transaction(durable=False) as conn:
                for h in gone:
                    await self._release_queue(conn, h)

    async def _release_queue(self, conn: aiosqlite.Connection, hook_id: int) -> None:
        st = self._state[hook_id]
        ids = [r.id for r in st.queue]
        st.queue.clear()
        if ids:
            await outbox_store.release(conn, ids, now=self._clock.time())
            st.held.difference_update(ids)

    def _active_total(self) -> int:
        return self._running_total + sum(len(st.queue) for st in self._state.values())

    def _wanted(self, now: float) -> dict[int, int]:
        # Rows whose result awaits its commit are still held (never claimed twice) but do not count
        # against the buffer, or the flush interval would starve the queue.
        room = self._global_buffer - self._active_total()
        want: dict[int, int] = {}
        for h, hook in self._hooks.items():
            if not hook.enabled or room <= 0:
                continue
            st = self._state.setdefault(h, _HookState())
            # Refill at half empty, so claims (and their fsyncs) come in batches.
            if st.active > self._buffer // 2 or st.next_due > now or st.paused_until > now:
                continue
            n = min(self._buffer - st.active, room)
            if n > 0:
                want[h] = n
                room -= n
        return want

    async def _claim(self, want: dict[int, int]) -> None:
        now = self._clock.time()
        lease_until = now + self._lease
        async with self._db.transaction(durable=False) as conn:
            for h, n in want.items():
                st = self._state[h]
                rows = await outbox_store.claim_due(
                    conn, webhook_id=h, now=now, lease_until=lease_until, limit=n, exclude=st.held
                )
                st.queue.extend(rows)
                st.held.update(r.id for r in rows)
                if len(rows) < n:
                    # Fewer due than wanted: remember when the next one is, to sleep until then.
                    due = await outbox_store.next_due(conn, webhook_id=h, exclude=st.held)
                    st.next_due = _FAR if due is None else due
                else:
                    st.next_due = 0.0

    def _dispatch(self) -> None:
        limit, per = max(1, self._cfg.concurrency), max(1, self._cfg.per_webhook_concurrency)
        now = self._clock.time()
        progress = True
        while progress and self._running_total < limit:
            progress = False
            for h, st in self._state.items():
                if self._running_total >= limit:
                    break
                hook = self._hooks.get(h)
                if (
                    st.queue
                    and st.running < per
                    and hook is not None
                    and hook.enabled
                    and st.paused_until <= now
                ):
                    row = st.queue.popleft()
                    st.running += 1
                    self._running_total += 1
                    task = asyncio.create_task(self._deliver(hook, row), name=f"deliver-{row.id}")
                    self._tasks.add(task)
                    task.add_done_callback(self._delivery_done)
                    progress = True

    def _delivery_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._kick.set()

    def _next_wait(self, now: float) -> float | None:
        """Seconds until a webhook with room in its buffer has a row due, or a paused one may go on;
        None when nothing is scheduled."""
        room = self._active_total() < self._global_buffer
        due: list[float] = []
        for h, st in self._state.items():
            if h not in self._hooks or not self._hooks[h].enabled:
                continue
            if st.paused_until > now:
                due.append(st.paused_until)  # its queued rows go then (_FAR: until its result is in)
            elif room and st.active <= self._buffer // 2:
                due.append(st.next_due)
        earliest = min(due, default=_FAR)
        return None if earliest == _FAR else max(0.0, earliest - now)

    async def _wait(self, delay: float | None) -> None:
        # The real-time poll also picks up rows another process (the CLI) replayed or enabled.
        if not await sleep_or_until(self._clock, delay, self._kick, real_seconds=self._poll):
            self.wake()

    async def _claim_loop(self) -> None:
        while True:
            # Storage trouble (docs/design.md §4): claim nothing until a write works again.
            await self._db.health.wait_writable()
            self._kick.clear()
            try:
                if self._clock.monotonic() - self._hooks_loaded_at > 1.0:
                    await self._load_hooks()
                now = self._clock.time()
                want = self._wanted(now)
                if want:
                    await self._claim(want)
                self._dispatch()
                await self._refresh_backlog()
            except Exception as exc:
                if not self._db.health.report(exc):
                    raise
                continue
            if self._kick.is_set():
                continue
            await self._wait(self._next_wait(self._clock.time()))

    # -- delivering ---------------------------------------------------------------------------------

    async def _deliver(self, hook: _Hook, row: _Row) -> None:
        st = self._state[hook.id]
        started = time.monotonic()  # the request's real duration, whatever the clock does
        at = self._clock.time()
        status: int | None = None
        error: str | None = None
        retry_after: str | None = None
        failure: Failure | None = None
        os_errno: int | None = None
        try:
            payload, content_type = events.render(
                fmt=hook.format,
                timestamp=row.timestamp,
                random_id=row.random_id,
                signature=row.signature,
                type=row.type,
                body_json=row.body,
                flavor=hook.flavor,
            )
            transport = self._transports.get(hook.kind)
            if transport is None:
                headers = {
                    "Content-Type": content_type,
                    "User-Agent": USER_AGENT,
                    # This attempt's time, not the event's: receivers reject stale Standard Webhooks
                    # timestamps. Only HTTP carries them: a transport (MQTT) takes the body alone.
                    **signing.standard_headers(self._api_key, row.random_id, int(at), payload),
                }
                status, retry_after, error = await self._post(hook, row, payload, headers)
            else:
                status, error = await transport(row, payload)
                if status is None:
                    failure = Failure.NETWORK  # the broker did not take it: its side, counted
        except TrustError as exc:
            failure, error = Failure.INTERNAL, f"ca_file: {exc}"
        except TimeoutError:
            failure = Failure.TIMEOUT
            error = f"timeout (connect {self._cfg.connect_timeout:g} s, total {self._cfg.timeout:g} s)"
        except aiohttp.ClientError as exc:
            failure, os_errno = Failure.NETWORK, _os_errno(exc)
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        except OSError as exc:
            failure, os_errno = Failure.NETWORK, _os_errno(exc)
            error = f"{type(exc).__name__}: {exc}"
        except ValueError as exc:
            failure, error = Failure.INVALID, f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # MemoryError, no thread for the resolver, the session closed under us…
            log.exception("unexpected error", extra=_context(hook.name, row.id))
            failure, error = Failure.INTERNAL, f"{type(exc).__name__}: {exc}"
        finally:
            st.running -= 1
            self._running_total -= 1
        duration_ms = (time.monotonic() - started) * 1000.0
        result = _Result(row, at, status, error, duration_ms, retry_after, failure, os_errno)
        if status == 410 and hook.id in self._hooks:
            # Stop sending to it at once; the disable itself is committed with this result (until
            # then ``_gone`` keeps a reload of the webhooks from enabling it again).
            self._gone.add(hook.id)
            self._hooks[hook.id] = hook._replace(enabled=False)
        if is_success(status):
            log.info("delivered: HTTP %d in %.0f ms", status, duration_ms, extra=_context(hook.name, row.id))
        elif result.local:
            # Nothing more goes to this webhook until the result is recorded and says when.
            st.paused_until = _FAR
            log.error(
                "attempt failed on this machine, not counted against the receiver: %s",
                error,
                extra=_context(hook.name, row.id),
            )
        else:
            log.warning(
                "attempt %d failed: %s in %.0f ms",
                row.attempts + 1,
                error if status is None else f"HTTP {status}" + (f" ({error})" if error else ""),
                duration_ms,
                extra=_context(hook.name, row.id),
            )
        self._results.append(result)
        self._results_ready.set()

    async def _post(
        self, hook: _Hook, row: _Row, payload: bytes, headers: dict[str, str]
    ) -> tuple[int, str | None, str | None]:
        """POST one delivery, following 307/308: ``(last status, its Retry-After, why a redirect
        was not followed, or the start of a failure's body)``. The one place the dispatcher talks HTTP.
        Raises TrustError when the webhook's ``ca_file`` cannot be loaded."""
        url = hook.url
        # The body as sent, never decompressed: what is read of it stays RESPONSE_PREFIX bytes.
        headers = {**headers, "Accept-Encoding": "identity"}
        for hop in range(MAX_REDIRECTS + 1):
            async with self._session.post(
                url,
                data=payload,
                headers=headers,
                allow_redirects=False,
                timeout=self._timeout,
                ssl=await self._tls(hook) if url[:6].lower() == "https:" else True,  # True: no TLS here
                auto_decompress=False,
            ) as resp:
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
                location = resp.headers.get("Location")
                head = await _body_prefix(resp)
                encoding = resp.headers.get("Content-Encoding", "identity")
            if status not in _REDIRECTS:
                return status, retry_after, None if is_success(status) else _quote(head, encoding)
            target = _redirect_target(url, location)
            if status in _FOLLOWED and target is not None and hop < MAX_REDIRECTS:
                log.info(
                    "HTTP %d: following it to %s (same body and signatures); set the webhook's URL to it "
                    "to save the hop",
                    status,
                    target,
                    extra=_context(hook.name, row.id),
                )
                url = target
                continue
            if target is None:
                reason = f"redirect with no usable Location ({location!r})"
            elif status in _FOLLOWED:
                reason = f"more than {MAX_REDIRECTS} redirects, the last to {target}"
            else:
                reason = (
                    f"redirect to {target} not followed: a {status} turns a POST into a GET without its "
                    "body; set the webhook's URL to that address"
                )
            return status, retry_after, reason
        raise AssertionError("unreachable: the last hop returns")

    async def _tls(self, hook: _Hook) -> ssl.SSLContext | bool:
        """The ``ssl`` argument of ``hook``'s https requests; a CA file is parsed in a thread."""
        at_hand = self._trust.cached(hook.ca_file, hook.verify)
        if at_hand is not None:
            return at_hand
        return await asyncio.to_thread(self._trust.for_webhook, hook.ca_file, hook.verify)

    # -- recording results --------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            if self._backlog_stale:
                # The last results changed the count: refresh it within a second even if all goes quiet.
                try:
                    await within(self._results_ready.wait(), 1.0)
                except TimeoutError:
                    await self._refresh_backlog()
                    continue
            else:
                await self._results_ready.wait()
            if len(self._results) < self._batch:
                await asyncio.sleep(self._flush_interval)  # gather a batch: one fsync for many results
            await self._db.health.wait_writable()
            await self._flush()
            self._backlog_stale = True
            await self._refresh_backlog()

    async def _flush(self) -> None:
        self._results_ready.clear()
        batch, self._results = self._results, []
        if not batch:
            return
        # Shielded: results already sent must be recorded even when we are being stopped (the
        # shutdown waits for this task), or the receiver would get them all again after the lease.
        self._committing = asyncio.ensure_future(self._record(batch))
        await asyncio.shield(self._committing)

    async def _record(self, batch: list[_Result]) -> None:
        kept = False
        try:
            await self._commit(batch)
        except Exception as exc:
            if self._db.health.report(exc):
                # The disk's trouble: keep the results (and the rows held) for when it works again, so
                # the receiver does not get them all once more.
                self._results[:0] = batch
                self._results_ready.set()
                kept = True
            else:
                # The rows stay leased and are sent again after the lease: at least once still holds.
                log.exception("could not record %d delivery results; they will be retried", len(batch))
        finally:
            if not kept:
                for r in batch:
                    st = self._state.get(r.row.webhook_id)
                    if st is not None:
                        st.held.discard(r.row.id)
                        if st.paused_until == _FAR:  # a local failure whose delay was never recorded
                            st.paused_until = 0.0
            self._kick.set()

    async def _commit(self, batch: list[_Result]) -> None:
        now = self._clock.time()
        delivered: list[tuple[int, int]] = []
        retry: list[outbox_store.Retry] = []
        dead: list[tuple[int, str | None, int | None]] = []
        gone: dict[int, _Result] = {}
        recovered: set[int] = set()
        local: list[outbox_store.Retry] = []
        paused: dict[int, float] = {}  # webhook → until when, after a local failure
        counted: set[int] = set()  # webhooks with an attempt that was not local
        counts = dict.fromkeys(AttemptResult, 0)
        for r in batch:
            hook_id = r.row.webhook_id
            st = self._state.get(hook_id)
            decision = decide(
                status=r.status,
                error=r.error,
                attempts_done=r.row.attempts,
                now=now,
                schedule=self._cfg.schedule,
                jitter=self._cfg.jitter,
                rng=self._rng,
                retry_after=r.retry_after,
                failure=r.failure,
                os_errno=r.os_errno,
                local_since=st.local_since if st is not None else None,
            )
            counts[decision.result] += 1
            if decision.result is AttemptResult.LOCAL:
                assert decision.next_attempt_at is not None
                local.append(outbox_store.Retry(r.row.id, decision.next_attempt_at, decision.error, None))
                paused[hook_id] = max(paused.get(hook_id, 0.0), decision.next_attempt_at)
                continue
            counted.add(hook_id)
            if decision.result is AttemptResult.DELIVERED:
                delivered.append((r.row.id, r.status or 0))
                if self._maybe_failing is None or hook_id in self._maybe_failing:
                    recovered.add(hook_id)
                continue
            if self._maybe_failing is not None:
                self._maybe_failing.add(hook_id)
            if decision.result is AttemptResult.DEAD:
                dead.append((r.row.id, decision.error, r.status))
                log.error(
                    "dead after %d attempts (last: %s); replay it with "
                    "`raspisms-daemon deliveries replay %d`",
                    r.row.attempts + 1,
                    decision.error,
                    r.row.id,
                    extra=_context(self._name(hook_id), r.row.id),
                )
                continue
            if decision.result is AttemptResult.GONE:
                gone[hook_id] = r
            assert decision.next_attempt_at is not None
            retry.append(outbox_store.Retry(r.row.id, decision.next_attempt_at, decision.error, r.status))
        async with self._db.transaction(durable=False) as conn:
            await outbox_store.record_attempts(
                conn,
                [
                    outbox_store.Attempt(r.row.id, r.at, r.status, r.error, r.duration_ms, r.local)
                    for r in batch
                ],
            )
            await outbox_store.mark_delivered(conn, delivered, at=now)
            await outbox_store.mark_retry(conn, retry)
            await outbox_store.mark_local(conn, local)
            await outbox_store.mark_dead(conn, dead)
            for hook_id, r in gone.items():
                reason = f"410 Gone from {self._hooks[hook_id].url if hook_id in self._hooks else 'its URL'}"
                await webhook_store.disable_gone(conn, hook_id, reason)
                log.error(
                    "answered 410 Gone: webhook disabled, its deliveries are kept pending; re-enable with "
                    "`raspisms-daemon webhooks enable %s`",
                    self._name(hook_id),
                    extra=_context(self._name(hook_id), r.row.id),
                )
                if hook_id in self._state:
                    await self._release_queue(conn, hook_id)
                self._gone.discard(hook_id)
            for hook_id in recovered - set(gone):
                # It answers again: its backlog should not sit out hours of backoff.
                await outbox_store.make_backlog_due(conn, webhook_id=hook_id, now=now)
                if self._maybe_failing is not None:
                    self._maybe_failing.discard(hook_id)
                if hook_id in self._state:
                    self._state[hook_id].next_due = 0.0
        for result, n in counts.items():
            self._attempts_total[result] += n
        self._note_local(paused, counted - set(paused), now)
        for r in batch:
            if not r.ok and r.row.webhook_id in self._state:
                # Its retry time is in the table now; let the next claim round see it.
                self._state[r.row.webhook_id].next_due = min(self._state[r.row.webhook_id].next_due, now)

    def _note_local(self, paused: dict[int, float], counted: set[int], now: float) -> None:
        """After a batch is recorded: webhooks with a local failure wait until their time; those whose
        attempts counted again are out of their local trouble."""
        for hook_id, until in paused.items():
            st = self._state.get(hook_id)
            if st is None:
                continue
            if st.local_since is None:
                st.local_since = now
                log.error(
                    "deliveries to this webhook fail on this machine (see the errors above): they wait and "
                    "are tried again every minute at most, not counting against the receiver, until it works",
                    extra={"webhook": self._name(hook_id)},
                )
            st.paused_until = until
        for hook_id in counted:
            st = self._state.get(hook_id)
            if st is None or st.local_since is None:
                continue
            log.info(
                "deliveries to this webhook work again after %.0f s of local failures",
                now - st.local_since,
                extra={"webhook": self._name(hook_id)},
            )
            st.local_since = None
            if st.paused_until == _FAR:
                st.paused_until = 0.0

    def _name(self, hook_id: int) -> str:
        """For log lines: the webhook's name, or its id when it was removed meanwhile."""
        hook = self._hooks.get(hook_id)
        return hook.name if hook is not None else str(hook_id)

    # -- housekeeping -------------------------------------------------------------------------------

    async def _refresh_backlog(self, *, force: bool = False) -> None:
        mono = time.monotonic()  # a cache of a count, refreshed on real time
        if force or mono - self._backlog_at >= 1.0:
            self._backlog_at = mono
            self._backlog_stale = False
            self._backlog = await outbox_store.backlog_count(self._db.reads.conn)

    async def _prune_loop(self) -> None:
        while True:
            try:
                await self.prune_once()
            except Exception:
                log.exception("pruning delivered rows failed; trying again later")
            await asyncio.sleep(self._prune_interval)  # a cadence; what is old enough is on the clock

    async def _shutdown(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._committing is not None:
            await asyncio.gather(self._committing, return_exceptions=True)
        try:
            async with asyncio.timeout(5.0):
                await self._flush()
                # Claimed but never sent (or cut off mid-request): due at once for the next run.
                ids = [i for st in self._state.values() for i in st.held]
                if ids:
                    async with self._db.transaction(durable=False) as conn:
                        await outbox_store.release(conn, ids, now=self._clock.time())
        except Exception as exc:
            why = "could not release claimed deliveries at shutdown; they return after their lease"
            if self._db.health.report(exc):
                log.warning("%s (%s)", why, exc)
            else:
                log.exception(why)
        for st in self._state.values():
            st.queue.clear()
            st.held.clear()


def _redirect_target(url: str, location: str | None) -> str | None:
    """The absolute http(s) URL a ``Location`` header points to from ``url``; None when unusable."""
    if not location:
        return None
    try:
        target = URL(url).join(URL(location))
    except ValueError:
        return None
    return str(target) if target.scheme in ("http", "https") and target.host else None


async def _body_prefix(resp: aiohttp.ClientResponse) -> bytes:
    """At most RESPONSE_PREFIX bytes of the answer's body. The connection goes back to the pool only if
    the body ended within them; otherwise it is closed (a body may be endless: never drained). A body cut
    short or slow to come changes nothing: the status has answered already."""
    head = b""
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        while len(head) < RESPONSE_PREFIX:
            chunk = await resp.content.read(RESPONSE_PREFIX - len(head))
            if not chunk:
                break
            head += chunk
    if not resp.content.at_eof():
        resp.close()
    return head


def _quote(head: bytes, encoding: str) -> str | None:
    """The start of a failure's body for its error and log line, on one printable line; None if empty."""
    if not head:
        return None
    if encoding.lower() != "identity":
        return f"a {encoding} body"
    text = " ".join("".join(c if c.isprintable() else " " for c in head.decode("utf-8", "replace")).split())
    if not text:
        return None
    return f"body {text[:_QUOTED] + ('…' if len(text) > _QUOTED else '')!r}"


def _os_errno(exc: BaseException) -> int | None:
    """The OS error number behind a network failure (getaddrinfo's EAI_* code for a resolver failure),
    looked for in aiohttp's wrapping and the exception's causes; None for TLS errors, whose numbers are
    OpenSSL's, not errno values."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, aiohttp.ClientSSLError | ssl.SSLError):
            return None
        if isinstance(current, aiohttp.ClientConnectorError):
            current = current.os_error
            continue
        if isinstance(current, OSError) and current.errno is not None:
            return current.errno
        current = current.__cause__ or current.__context__
    return None


def _context(webhook: str, delivery_id: int) -> dict[str, object]:
    """Log context: ``webhook=inbox delivery=12``, the WEBHOOK and DELIVERY_ID journal fields."""
    return {"webhook": webhook, "delivery_id": delivery_id}
