"""A rented number as an event source (Airflow 3.3+ ``AssetWatcher``), and what its DAG reads.

:class:`OnlineSimRentMessageTrigger` polls one rent and fires one event per poll that found new
messages, carrying all of them; its watermark lives in the asset state store, written only once
Airflow has stored the events (ack mode), so a restart neither loses nor repeats a message.
:func:`unhandled_messages` gives the DAG every message no earlier run of it handled, also those
of events that Airflow's scheduler left for a later run (docs/triggers.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent
from pydantic import BaseModel

from onlinesim_provider.api.errors import (
    FatalError,
    NoIdRentError,
    OnlineSimError,
    RateLimitedError,
    RentClosedError,
)
from onlinesim_provider.get_provider_info import DEFAULT_CONN_ID
from onlinesim_provider.hooks.settings import get_async_client
from onlinesim_provider.triggers._polling import POLL_RETRY, next_pause, shared_http_client
from onlinesim_provider.version_compat import AIRFLOW_V_3_3_PLUS
from onlinesim_provider.waits import inputs
from onlinesim_provider.waits.decision import (
    RentSmsWait,
    compile_pattern,
    match_rent_message,
    rent_message_payload,
)

try:
    from airflow.triggers.base import BaseEventTrigger
    from airflow.triggers.shared_stream import SharedStreamProducer
except ImportError:  # Airflow 2: no event triggers; the class below refuses to be built there
    BaseEventTrigger = BaseTrigger  # type: ignore[misc, assignment]
    SharedStreamProducer = object  # type: ignore[misc, assignment]

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence

    from airflow.providers.common.compat.sdk import Context
    from airflow.sdk import Asset
    from airflow.triggers.shared_stream import AdvanceItem

    from onlinesim_provider.api.models import RentMessage

__all__ = ["IDLE_PAUSE", "OnlineSimRentMessageTrigger", "unhandled_messages"]

log = logging.getLogger(__name__)

#: How long a watcher of a rent that is over sleeps at a time: it polls nothing any more.
IDLE_PAUSE = 3600.0


@dataclass(frozen=True)
class _Poll:
    """What the shared poll broadcasts: every message of the rent now, or why the rent is over."""

    seq: int
    messages: tuple[RentMessage, ...] = ()
    over: str | None = None


@dataclass
class _Watermark:
    """Which messages were already judged: the newest date, and the keys of that second's messages.

    The API dates messages to the second and gives them no id, so messages of the newest second
    are told apart by their content (and their rank among identical ones).
    """

    newest: datetime | None = None
    seen: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, stored: object, received_after: datetime | None) -> _Watermark:
        """Return the stored watermark, or the first one: messages before ``received_after`` are old."""
        if isinstance(stored, dict) and isinstance(stored.get("seen"), list):
            newest = stored.get("newest")
            return cls(datetime.fromisoformat(newest) if isinstance(newest, str) else None, stored["seen"])
        return cls(received_after.replace(microsecond=0) if received_after else None, [])

    def dump(self) -> dict[str, Any]:
        """Return the watermark as plain JSON (what the state store keeps)."""
        return {"newest": self.newest.isoformat() if self.newest else None, "seen": list(self.seen)}

    def take_new(self, messages: Sequence[RentMessage]) -> list[RentMessage]:
        """Return the messages not judged yet, in order, and move the watermark past all of them."""
        keyed = _keys(messages)
        fresh = [message for message, key in keyed if self._is_new(message, key)]
        dates = [_aware(m.date) for m, _ in keyed if m.date is not None]
        newest = max([*dates, self.newest] if self.newest else dates, default=None)
        if newest != self.newest:
            self.seen = []
        self.newest = newest
        self.seen = sorted(
            {*self.seen, *(key for m, key in keyed if m.date is None or _aware(m.date) == newest)}
        )
        return fresh

    def _is_new(self, message: RentMessage, key: str) -> bool:
        if message.date is None or self.newest is None:
            return key not in self.seen
        date = _aware(message.date)
        return date > self.newest or (date == self.newest and key not in self.seen)


def _aware(date: datetime) -> datetime:
    return date if date.tzinfo else date.replace(tzinfo=UTC)


def _keys(messages: Sequence[RentMessage]) -> list[tuple[RentMessage, str]]:
    """Pair each message with a stable key: its content's digest and its rank among equal ones."""
    counts: dict[str, int] = {}
    keyed = []
    for message in messages:
        digest = hashlib.sha256(json.dumps(message.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
        counts[digest] = counts.get(digest, 0) + 1
        keyed.append((message, f"{digest}:{counts[digest]}"))
    return keyed


async def _poll_rent(
    kwargs: dict[str, Any], sleep: Callable[[float], Awaitable[object]]
) -> AsyncIterator[_Poll]:
    """Poll one rent forever; yield every reply, then (once the rent is over) park silently.

    Transient errors back off; other errors (a wrong key, say) are logged and retried at the longest
    pause, so a watcher recovers once the connection is fixed instead of failing in a loop.
    """
    rent_id, interval = int(kwargs["rent_id"]), float(kwargs["poll_interval"])
    client = await get_async_client(kwargs["onlinesim_conn_id"], http_client=shared_http_client())
    client.retry = POLL_RETRY
    seq, failures = 0, 0
    try:
        while True:
            retry_after = None
            try:
                status = await client.get_rent_status(rent_id)
            except (RentClosedError, NoIdRentError) as error:
                seq += 1
                yield _Poll(seq, over=error.token or type(error).__name__)
                while True:
                    await sleep(IDLE_PAUSE)
            except OnlineSimError as error:
                failures += 1
                retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
                level = log.error if isinstance(error, FatalError) else log.warning
                level("Reading the messages of rent %s failed, polling again later: %s", rent_id, error)
            else:
                failures, seq = 0, seq + 1
                yield _Poll(seq, status.messages)
            await sleep(next_pause(interval, failures, retry_after))
    finally:
        await client.aclose()


#: The triggers consuming each shared poll, so that the poll can tell them when events are stored.
_SUBSCRIBERS: dict[Hashable, set[OnlineSimRentMessageTrigger]] = {}


class _RentPollProducer(SharedStreamProducer):
    """The shared poll of one rent in ack mode: Airflow calls :meth:`advance` once events are stored."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.kwargs = kwargs
        self.key = _stream_key(kwargs)

    async def open_stream(self) -> AsyncIterator[tuple[Any, Any]]:
        """Yield each poll with its sequence number (what :meth:`advance` gets back)."""
        async for poll in _poll_rent(self.kwargs, asyncio.sleep):
            yield poll, poll.seq

    async def advance(self, batch: Sequence[AdvanceItem]) -> None:
        """Let every subscriber save its watermark up to the last poll whose events are all stored.

        :param batch: polls whose derived events every subscriber had confirmed (or not).
        """
        clean = [item.broker_payload for item in batch if item.outcome.is_clean]
        if clean:
            for trigger in list(_SUBSCRIBERS.get(self.key, ())):
                await trigger._stored_up_to(max(clean))


def _stream_key(kwargs: dict[str, Any]) -> tuple[str, str, int]:
    return ("onlinesim-rent-messages", str(kwargs["onlinesim_conn_id"]), int(kwargs["rent_id"]))


class OnlineSimRentMessageTrigger(BaseEventTrigger):
    r"""Fire an event for each poll that finds new messages on a rented number (Airflow 3.3+).

    For an ``AssetWatcher``: each event's payload is ``{"rent_id", "messages": [...]}``, every
    message ``{"rent_id", "phone_from", "text", "service", "date", "code"}`` (``code`` from the
    pattern's named group); Airflow stores it in the asset event's ``extra["payload"]``. A burst
    that one poll finds is one event. Read them in the DAG with :func:`unhandled_messages`.

    .. code-block:: python

        inbox = Asset(
            "onlinesim_rent_inbox",
            watchers=[AssetWatcher(name="rent_inbox", trigger=OnlineSimRentMessageTrigger(rent_id=12345))],
        )

    :param rent_id: the rent to watch.
    :param onlinesim_conn_id: the ``onlinesim`` connection.
    :param poll_interval: seconds between polls, before jitter and backoff.
    :param sender: only messages whose sender number or service contains this text (any case).
    :param text_pattern: only messages whose text matches this regex; a named group ``code``
        fills ``code``.
    :param received_after: only messages received at or after this instant (ISO 8601); without a
        stored watermark and without this, every message on the rent counts.
    :param sleep: pauses between polls (default ``asyncio.sleep``; for tests, not serialized).
    :raises RuntimeError: on Airflow before 3.3, which has no asset state store for the watermark.
    """

    #: Where in the asset state store the watermark is kept (one key per trigger).
    watermark_prefix: ClassVar[str] = "onlinesim_rent_messages"

    def __init__(
        self,
        *,
        rent_id: int | str,
        onlinesim_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 30.0,
        sender: str | None = None,
        text_pattern: str | None = None,
        received_after: str | datetime | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if not AIRFLOW_V_3_3_PLUS:
            from airflow import __version__

            raise RuntimeError(
                "OnlineSimRentMessageTrigger needs Airflow 3.3 or later (an AssetWatcher whose trigger "
                f"keeps its watermark in the asset state store); this is Airflow {__version__}. "
                "On Airflow 2, wait for a message with OnlineSimRentSmsSensor instead."
            )
        super().__init__()  # type: ignore[no-untyped-call]  # unannotated in Airflow
        self.rent_id = inputs.rent_id(rent_id)
        self.onlinesim_conn_id = onlinesim_conn_id
        self.poll_interval = float(poll_interval)
        self.sender = sender or None
        if text_pattern is not None:
            compile_pattern(text_pattern, name="text_pattern", require_code_group=False)
        self.text_pattern = text_pattern
        self.received_after = inputs.instant("received_after", received_after)
        self._sleep = sleep
        self._pending: dict[int, dict[str, Any]] = {}
        self._saved: dict[str, Any] | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the class path and plain keyword arguments (never the API key)."""
        return f"{type(self).__module__}.{type(self).__qualname__}", {
            "rent_id": self.rent_id,
            "onlinesim_conn_id": self.onlinesim_conn_id,
            "poll_interval": self.poll_interval,
            "sender": self.sender,
            "text_pattern": self.text_pattern,
            "received_after": self.received_after.isoformat() if self.received_after else None,
        }

    @property
    def watermark_key(self) -> str:
        """Return this trigger's key in the asset state store (its filters make it unique)."""
        digest = hashlib.sha256(json.dumps(self.serialize()[1], sort_keys=True).encode()).hexdigest()[:12]
        return f"{self.watermark_prefix}:{self.rent_id}:{digest}"

    def shared_stream_key(self) -> Hashable | None:
        """Share one poll among all watchers of this rent on the same connection."""
        return _stream_key(self.serialize()[1])

    @classmethod
    def create_shared_stream_producer(cls, kwargs: dict[str, Any]) -> _RentPollProducer:
        """Return the shared poll in ack mode, so the watermark follows stored events only.

        :param kwargs: one subscriber's serialized arguments.
        """
        return _RentPollProducer(kwargs)

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        """Turn the shared polls into this trigger's events.

        :param shared_stream: the polls of the rent.
        """
        key = self.shared_stream_key()
        _SUBSCRIBERS.setdefault(key, set()).add(self)
        try:
            async for event in self._events(shared_stream, acked=True):
                yield event
        finally:
            _SUBSCRIBERS.get(key, set()).discard(self)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll the rent on its own (no shared poll), saving the watermark after each poll's event."""
        async for event in self._events(_poll_rent(self.serialize()[1], self._sleep), acked=False):
            yield event

    async def _events(self, polls: AsyncIterator[Any], *, acked: bool) -> AsyncIterator[TriggerEvent]:
        watermark = _Watermark.load(await self._load(), self.received_after)
        wanted = RentSmsWait(self.rent_id, self.sender, self.text_pattern)
        async for poll in polls:
            if poll.over is not None:
                await self._park(poll.over)
            counted = []
            for message in watermark.take_new(poll.messages):
                code = match_rent_message(message, wanted)
                if code is not False:
                    counted.append(rent_message_payload(self.rent_id, message, code))
            if counted:
                self.log.info("%d new message(s) on rent %s", len(counted), self.rent_id)
                yield TriggerEvent({"rent_id": self.rent_id, "messages": counted})  # type: ignore[no-untyped-call]
            if acked:
                self._pending[poll.seq] = watermark.dump()
            else:
                await self._save(watermark.dump())

    async def _stored_up_to(self, seq: int) -> None:
        """Save the watermark of poll ``seq``: Airflow has stored every event derived up to it."""
        done = [s for s in self._pending if s <= seq]
        if done:
            latest = self._pending[max(done)]
            for s in done:
                del self._pending[s]
            await self._save(latest)

    async def _park(self, why: str) -> None:
        self.log.warning(
            "Rent %s is over (%s): this watcher stops polling. Point its AssetWatcher at a new rent.",
            self.rent_id,
            why,
        )
        while True:
            await self._sleep(IDLE_PAUSE)

    async def _load(self) -> object:
        store = self.asset_state_store
        if store is None:
            self.log.warning("No asset state store: the watermark of rent %s is kept in memory", self.rent_id)
            return None
        try:
            stored = await store.aget(self.watermark_key)
        except ValueError as error:  # one trigger shared by several assets has no single store
            self.log.error(
                "The watermark of rent %s is kept in memory only (%s): give each watched asset a "
                "trigger with its own arguments",
                self.rent_id,
                error,
            )
            self.asset_state_store = None
            return None
        self._saved = stored if isinstance(stored, dict) else None
        return stored

    async def _save(self, watermark: dict[str, Any]) -> None:
        store = self.asset_state_store
        if store is None or watermark == self._saved:
            return
        await store.aset(self.watermark_key, watermark)
        self._saved = watermark


def unhandled_messages(context: Context, inbox: Asset) -> list[dict[str, Any]]:
    """Return every message of ``inbox`` that no earlier run of this DAG handled, oldest first.

    Airflow's scheduler may leave an event stored while a run was being created for the next
    run, which only a later event starts; reading the asset's events since the last handled one
    takes those too. Call it from a task with ``inlets=[inbox]`` of a DAG with
    ``max_active_runs=1``; the last handled event is kept in the asset state store per DAG.

    :param context: the running task's context.
    :param inbox: the asset the rent's watcher feeds.
    """
    store = context["asset_state_store"][inbox]
    key = f"onlinesim_handled:{context['dag'].dag_id}"
    stored = store.get(key)
    handled = _Handled.model_validate(stored) if stored is not None else None
    since = handled.at if handled else None
    if since is None:  # the first run: from its earliest triggering event on
        triggering = context["triggering_asset_events"][inbox]
        since = min(event.timestamp for event in triggering).isoformat() if triggering else None
    events = context["inlet_events"][inbox]
    fresh = [e for e in (events.after(since) if since else events) if e.id > (handled.id if handled else 0)]
    if fresh:
        last = max(fresh, key=lambda event: event.id)
        store.set(key, {"id": last.id, "at": last.timestamp.isoformat()})
    payloads = [_Payload.model_validate((event.extra or {}).get("payload") or {}) for event in fresh]
    return [message for payload in payloads for message in payload.messages]


class _Handled(BaseModel):
    """The last asset event a DAG's runs handled, as the asset state store keeps it."""

    id: int
    at: str


class _Payload(BaseModel):
    """The payload of an inbox event, as Airflow stored it in the asset event's ``extra``."""

    messages: list[dict[str, Any]] = []
