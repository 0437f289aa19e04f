"""The sandbox application behind the HTTP front: one lock around the state, faults and logs."""

from __future__ import annotations

import collections
import logging
import threading
import traceback
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from onlinesim_provider.sandbox.clock import SystemClock
from onlinesim_provider.sandbox.config import SWITCHES, SandboxConfig
from onlinesim_provider.sandbox.faults import FaultRule, FaultSet, fault_reply
from onlinesim_provider.sandbox.state import SandboxState, auth_method

if TYPE_CHECKING:
    from collections.abc import Callable

    from onlinesim_provider.sandbox.replies import Reply

__all__ = ["REQUEST_LOG_SIZE", "ApiOutcome", "SandboxApp", "UnknownControlError"]

log = logging.getLogger(__name__)

#: The request log keeps this many of the latest API calls.
REQUEST_LOG_SIZE = 10_000
_REDACTED = "REDACTED"


class UnknownControlError(LookupError):
    """There is no test control of that name."""


class ApiOutcome:
    """What the HTTP front must do for one API call: wait ``delay`` seconds, then send ``reply``.

    ``reply`` is ``None`` when the connection must be reset without an answer.
    """

    __slots__ = ("delay", "reply")

    def __init__(self, reply: Reply | None, delay: float = 0.0) -> None:
        self.reply = reply
        self.delay = delay


def _params(raw: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in parse_qsl(raw, keep_blank_values=True):
        params.setdefault(name, value)
    return params


def _redacted(params: dict[str, str]) -> dict[str, str]:
    return {k: (_REDACTED if k == "api_key" else v) for k, v in params.items()}


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


class SandboxApp:
    """State, clock, faults and request log of one sandbox, shared by all server threads.

    :param config: the initial settings; :meth:`reset` returns to them.
    :param seed: seed for random SMS codes and delivery draws (``None`` = the config's ``seed``).
    """

    def __init__(self, config: SandboxConfig, seed: int | None = None) -> None:
        self.initial_config = config
        self.lock = threading.Lock()
        self._seed = config.seed if seed is None else seed
        self.clock = SystemClock(config.speed)
        self.state = SandboxState(config, self.clock.now(), seed)
        self.faults = FaultSet()
        self.requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=REQUEST_LOG_SIZE)
        self._request_seq = 0
        self._controls: dict[str, Callable[[dict[str, Any]], Any]] = {
            name[len("_c_") :]: getattr(self, name) for name in dir(self) if name.startswith("_c_")
        }

    @property
    def config(self) -> SandboxConfig:
        """Return the settings in force."""
        return self.state.config

    # --- API --------------------------------------------------------------------------------

    def api(self, method: str, query: str, form: str, authorization: str | None) -> ApiOutcome:
        """Answer one call of ``/stubs/handler_api.php``.

        :param method: ``GET`` or ``POST``.
        :param query: the raw query string.
        :param form: the raw form body (``""`` for GET).
        :param authorization: the ``Authorization`` header, if any.
        """
        url_params, form_params = _params(query), _params(form)
        params = {**form_params, **url_params}
        action = params.get("action")
        bearer = _bearer(authorization)
        with self.lock:
            now = self.clock.now()
            rule = self.faults.pick(action)
            real = self._handle(action, params, now, bearer) if rule is None or rule.processed else None
            reply = real if rule is None else fault_reply(rule, action, real, self.config.envelope_key)
            self._request_seq += 1
            self.requests.append(
                {
                    "seq": self._request_seq,
                    "time": now,
                    "method": method,
                    "action": action,
                    "query": _redacted(url_params),
                    "form": _redacted(form_params),
                    "auth": auth_method(self.config, params, bearer),
                    "status": reply.status if reply is not None else None,
                    "fault": rule.kind if rule is not None else None,
                }
            )
        delay = float(rule.delay or 0) if rule is not None and rule.kind == "delay" else 0.0
        return ApiOutcome(reply, delay)

    def _handle(self, action: str | None, params: dict[str, str], now: float, bearer: str | None) -> Reply:
        try:
            return self.state.handle(action, params, now, bearer)
        except Exception:
            trace = traceback.format_exc().replace(self.config.api_key, _REDACTED)
            log.error("sandbox: unhandled error in action %r:\n%s", action, trace)
            return self.state.error(action, "BAD_ACTION")

    # --- test controls ----------------------------------------------------------------------

    def control(self, name: str, payload: dict[str, Any]) -> Any:
        """Run the control ``name`` with the JSON ``payload``; raise KeyError/ValueError on misuse.

        :param name: the control name (the path after ``/_sandbox/``).
        :param payload: the JSON arguments.
        """
        operation = self._controls.get(name)
        if operation is None:
            raise UnknownControlError(
                f"unknown sandbox control {name!r}: expected one of {sorted(self._controls)}"
            )
        with self.lock:
            return operation(payload)

    def _now(self) -> float:
        now = self.clock.now()
        self.state.tick(now)
        return now

    def _c_sms(self, p: dict[str, Any]) -> Any:
        return self.state.deliver_sms(
            int(p["activation_id"]),
            self._now(),
            p.get("text"),
            p.get("code"),
            str(p.get("sender", "Telegram")),
        )

    def _c_rent_sms(self, p: dict[str, Any]) -> Any:
        options = {k: str(p[k]) for k in ("sender", "service") if p.get(k) is not None}
        return self.state.deliver_rent_sms(int(p["rent_id"]), self._now(), str(p["text"]), **options)

    def _c_advance(self, p: dict[str, Any]) -> Any:
        self.clock.advance(float(p["seconds"]))
        return {"now": self._now()}

    def _c_now(self, p: dict[str, Any]) -> Any:
        return {"now": self._now()}

    def _c_fault(self, p: dict[str, Any]) -> Any:
        rule = FaultRule(**p)
        self.faults.add(rule)
        return rule.to_dict()

    def _c_faults(self, p: dict[str, Any]) -> Any:
        return [rule.to_dict() for rule in self.faults.rules]

    def _c_clear_faults(self, p: dict[str, Any]) -> Any:
        self.faults.clear()
        return {}

    def _c_configure(self, p: dict[str, Any]) -> Any:
        unknown = sorted(set(p) - set(SWITCHES))
        if unknown:
            raise ValueError(f"cannot configure {unknown} at run time: expected some of {list(SWITCHES)}")
        config = self.config.replace(**p)
        self._now()
        self.state.config = config
        if "speed" in p:
            self.clock.set_speed(config.speed)
        if "balance" in p:
            self.state.set_balance(config.balance)
        if "seed" in p:
            self.state.reseed(config.seed)
        return config.to_dict()

    def _c_config(self, p: dict[str, Any]) -> Any:
        return self.config.to_dict()

    def _c_balance(self, p: dict[str, Any]) -> Any:
        self.state.set_balance(p["amount"])
        return {"balance": str(self.state.balance)}

    def _c_stock(self, p: dict[str, Any]) -> Any:
        self.state.set_stock(str(p["country"]), str(p["service"]), p["count"])
        return {}

    def _c_rent_stock(self, p: dict[str, Any]) -> Any:
        self.state.set_rent_stock(str(p["country"]), p["count"])
        return {}

    def _c_price(self, p: dict[str, Any]) -> Any:
        self.state.set_price(str(p["service"]), p["price"])
        return {}

    def _c_rent_price(self, p: dict[str, Any]) -> Any:
        self.state.set_rent_price(str(p["country"]), p["price_per_day"])
        return {}

    def _c_ledger(self, p: dict[str, Any]) -> Any:
        self._now()
        return [dict(event) for event in self.state.ledger]

    def _c_summary(self, p: dict[str, Any]) -> Any:
        self._now()
        return self.state.summary()

    def _c_activations(self, p: dict[str, Any]) -> Any:
        self._now()
        return [a.to_dict() for a in self.state.activations.values()]

    def _c_rents(self, p: dict[str, Any]) -> Any:
        self._now()
        return [r.to_dict() for r in self.state.rents.values()]

    def _c_requests(self, p: dict[str, Any]) -> Any:
        return list(self.requests)

    def _c_reset(self, p: dict[str, Any]) -> Any:
        self.clock = SystemClock(self.initial_config.speed)
        self.state = SandboxState(self.initial_config, self.clock.now(), self._seed)
        self.faults.clear()
        self.requests.clear()
        self._request_seq = 0
        return {}
