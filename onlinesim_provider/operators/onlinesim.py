"""Operators for OnlineSIM: order a number, set its status, rent a number, check the balance.

Every operator validates its arguments twice, when the DAG is parsed (literal values) and after
templating, and fails without retry on a bad value before anything is ordered. API errors become
Airflow exceptions in one place (:func:`~onlinesim_provider.hooks.onlinesim.airflow_error`):
transient ones may be retried by Airflow, the rest fail the task at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    AirflowSkipException,
    BaseOperator,
    TriggerRule,
    XComArg,
    XComNotFound,
)
from jinja2 import UndefinedError

from onlinesim_provider.api.errors import (
    OnlineSimError,
    OutcomeUnknownError,
)
from onlinesim_provider.api.models import RENT_FIRST_SMS_WINDOW, ActivationState
from onlinesim_provider.hooks.onlinesim import OnlineSimHook, airflow_error, airflow_errors
from onlinesim_provider.metrics import RENT_OPENED, RENT_SERVICE, Labels, count
from onlinesim_provider.metrics import error as count_error
from onlinesim_provider.operators._ordering import order_activation, remember
from onlinesim_provider.operators._orders import PendingOrder, with_order_callbacks
from onlinesim_provider.version_compat import AIRFLOW_V_3_0_PLUS, storable_outputs
from onlinesim_provider.waits import inputs

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import jinja2
    from airflow.providers.common.compat.sdk import Context

    from onlinesim_provider.api.models import Rent

__all__ = [
    "OnlineSimGetBalanceOperator",
    "OnlineSimGetNumberOperator",
    "OnlineSimGetRentNumberOperator",
    "OnlineSimSetRentStatusOperator",
    "OnlineSimSetStatusOperator",
]

#: Status names of OnlineSimSetStatusOperator; "complete", "cancel" and "close" close the activation.
ACTIVATION_STATUSES = ("ready", "request_another_code", "complete", "cancel", "close")
#: The statuses that close an activation: with no activation to close, the task skips.
CLOSING_STATUSES = ("complete", "cancel", "close")
#: Status names of OnlineSimSetRentStatusOperator and their setRentStatus values.
#: ``close`` is the connection's ``rent_close_status`` (2 by default); ``finish`` is always 1.
RENT_STATUSES = {"close": 2, "finish": 1}


def _check_literals(*checks: tuple[object, Callable[[object], object]]) -> None:
    """Run each check on its value unless the value is still a template or an XCom reference."""
    for value, check in checks:
        if inputs.resolved(value):
            check(value)


def _now() -> datetime:
    return datetime.now(UTC)


class _OnlineSimOperator(BaseOperator):
    """Base of the OnlineSIM operators: the connection id and a lazily built hook."""

    def __init__(self, *, onlinesim_conn_id: str = OnlineSimHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.onlinesim_conn_id = onlinesim_conn_id

    @cached_property
    def hook(self) -> OnlineSimHook:
        """Return the hook of this task's connection."""
        return OnlineSimHook(onlinesim_conn_id=self.onlinesim_conn_id)


class _OnlineSimCloseOperator(_OnlineSimOperator):
    """Base of the closing operators: a teardown that skips when there is nothing to close.

    The order's id may come from a template or from the ordering task's output
    (``order.output["activation_id"]``). When the ordering task pushed nothing (it failed, was
    skipped or never ran), the id cannot be resolved (``XComNotFound``, a Jinja
    ``UndefinedError``, or a template rendered as ``None``): the task then ends as skipped, with a
    one-line reason, instead of failing and being retried.

    As a teardown it runs once everything before it is done (``all_done``), also when the
    ordering task failed: Airflow's default for teardowns would mark it ``upstream_failed``.

    ``order`` (the ordering task's result, ``order.output``) only labels the metrics of what the
    task closes; when it cannot be resolved the labels say ``unknown``.

    :param order: the ordering task's result, for the metrics' service and country. (templated)
    """

    #: The template field that holds the order's id.
    id_field: str = ""
    #: The ``service`` label when the order has none.
    metric_service: str | None = None
    _unresolved: str | None = None

    def __init__(self, *, order: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.order = order
        if inputs.resolved(order) or isinstance(order, dict):
            inputs.order_record(order)

    def as_teardown(self, **kwargs: Any) -> Any:
        """Make this task a teardown (Airflow's ``as_teardown``) that runs whatever its setups did.

        :param kwargs: ``setups`` and ``on_failure_fail_dagrun``, as for Airflow's ``as_teardown``.
        """
        teardown = super().as_teardown(**kwargs)
        self.trigger_rule = TriggerRule.ALL_DONE
        return teardown

    def render_template_fields(self, context: Context, jinja_env: jinja2.Environment | None = None) -> None:
        """Render the template fields; an order id that cannot be resolved becomes ``None``."""
        jinja_env = jinja_env or self.get_template_env()
        self._unresolved = self._setup_without_output(context) if self.is_teardown else None
        if self._unresolved is not None:
            setattr(self, self.id_field, None)
            self.order = None
        else:
            self._render_order(context, jinja_env)
        others = [name for name in self.template_fields if name not in (self.id_field, "order")]
        self._do_render_template_fields(self, others, context, jinja_env, set())

    def _render_order(self, context: Context, jinja_env: jinja2.Environment) -> None:
        try:
            rendered = self.render_template(getattr(self, self.id_field), context, jinja_env, set())
        except (XComNotFound, UndefinedError) as error:
            if not self.is_teardown:  # outside a teardown a missing id is the DAG's mistake
                raise
            rendered, self._unresolved = None, " ".join(f"{type(error).__name__}: {error}".split())
        setattr(self, self.id_field, rendered)
        try:
            self.order = self.render_template(self.order, context, jinja_env, set())
        except (XComNotFound, UndefinedError):
            self.order = None  # only the metrics' labels are lost

    def _setup_without_output(self, context: Context) -> str | None:
        """Return how the task that hands on the order id ended, when it pushed nothing.

        Asked of its state, not of its XCom: Airflow 3 logs a pull of a missing XCom as an error.
        """
        setups = [task for task, _ in XComArg.iter_xcom_references(getattr(self, self.id_field))]
        if not (setups and AIRFLOW_V_3_0_PLUS):
            return None
        ti = context["ti"]
        map_index = ti.map_index if ti.map_index is not None and ti.map_index >= 0 else None
        for task in setups:
            states = ti.get_task_states(
                dag_id=ti.dag_id, task_ids=[task.task_id], run_ids=[ti.run_id], map_index=map_index
            ).get(ti.run_id, {})
            state = states.get(task.task_id if map_index is None else f"{task.task_id}_{map_index}")
            if state not in (None, "success"):
                return f"{task.task_id} ended {state}"
        return None

    def _labels(self) -> Labels:
        """Return the metric labels of the order being closed (checks the rendered ``order``)."""
        return Labels.of_order(inputs.order_record(self.order), service=self.metric_service).with_dag()

    def _order_id_or_skip(self) -> object:
        """Return the rendered order id; a teardown with none raises ``AirflowSkipException``.

        Outside a teardown an empty id is bad input, which the id's validation reports.
        """
        value = getattr(self, self.id_field)
        if not self.is_teardown:
            return value
        if value is None or (isinstance(value, str) and value.strip() in ("", "None")):
            why = self._unresolved or f"it rendered as {value!r}"
            raise AirflowSkipException(
                f"Nothing to close: no {self.id_field} ({why}); the ordering task handed on no order."
            )
        return value

    def _tolerates_closed(self, allow_closed: bool) -> bool:
        """A teardown treats an order that is already closed as done."""
        return allow_closed or bool(self.is_teardown)


class OnlineSimGetNumberOperator(_OnlineSimOperator):
    """Order a number that receives one service's SMS; return it as a JSON dict.

    ``country`` may be a list: each country is tried in order while the server answers
    ``NO_NUMBERS``. A retry of the task never leaves a paid number behind: a number ordered by an
    earlier try is reused while it still waits for its SMS with time left, and cancelled (money
    back) otherwise, before a new one is ordered.

    Returns ``{"activation_id", "phone", "service", "country", "ordered_at", "expires_at"}``; each
    key is also pushed as its own XCom (``multiple_outputs``), so ``order.output["activation_id"]``
    can be handed to later tasks. Use it as the setup of an ``OnlineSimSetStatusOperator``
    teardown with ``status="close"``, which gives the money back whatever fails.

    The order is recorded for the task's retries (see ``_orders``); the record is forgotten when
    the task succeeds, and when it fails for good the order it names is cancelled first.

    .. code-block:: python

        order = OnlineSimGetNumberOperator(task_id="order", service="tg", country=["44", "7"])
        close = OnlineSimSetStatusOperator(
            task_id="close", activation_id=order.output["activation_id"], status="close"
        ).as_teardown(setups=order)

    :param service: the service code, e.g. ``tg``. (templated)
    :param country: a country key, a list of keys tried in order, or ``None`` for the server's
        default. (templated)
    :param operator: the mobile operator; any when omitted. (templated)
    :param onlinesim_conn_id: the ``onlinesim`` connection.
    """

    template_fields: Sequence[str] = ("service", "country", "operator")
    #: A number left by an earlier try is reused only with at least this much lifetime left.
    reattach_min_left = timedelta(minutes=5)

    def __init__(
        self,
        *,
        service: str,
        country: str | Sequence[str] | None = None,
        operator: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("multiple_outputs", True)
        super().__init__(**kwargs)
        self.service = service
        self.country = country
        self.operator = operator
        with_order_callbacks(self, "activation", self._cancel_recorded)
        _check_literals(
            (service, inputs.service), (country, inputs.country_list), (operator, inputs.operator)
        )

    def execute(self, context: Context) -> dict[str, Any]:
        """Reuse the number an earlier try left, or order one in the first country that has one."""
        service, countries = inputs.service(self.service), inputs.country_list(self.country)
        operator = inputs.operator(self.operator)
        pending = PendingOrder.of_task("activation", context)
        order = self._reattach(pending, service) or self._order(pending, service, countries, operator)
        return storable_outputs(order, self.multiple_outputs)

    def _cancel_recorded(self, context: Context, order: dict[str, Any]) -> None:
        """Cancel the order a try left when the task failed for good (a closed one is fine)."""
        self.log.info("Cancelling activation %s: the ordering task failed", order["activation_id"])
        self.hook.cancel_activation(order["activation_id"], allow_closed=True, labels=Labels.of_order(order))

    def _reattach(self, pending: PendingOrder, service: str) -> dict[str, Any] | None:
        order = pending.load_earlier()
        if order is None:
            return None
        activation_id, labels = order["activation_id"], Labels.of_order(order)
        with airflow_errors(f"Checking activation {activation_id} ordered by an earlier try", labels):
            time_left = datetime.fromisoformat(order["expires_at"]) - _now()
            waiting = self.hook.client.get_status(activation_id).state is ActivationState.WAIT_CODE
            reusable = waiting and time_left >= self.reattach_min_left and order["service"] == service
            if reusable and not pending.from_earlier_run:
                self.log.info(
                    "Reusing activation %s (+%s) ordered by an earlier try", activation_id, order["phone"]
                )
                return order
            self.log.info("Cancelling activation %s left by an earlier try", activation_id)
            self.hook.cancel_activation(activation_id, allow_closed=True, labels=labels)
        pending.clear()
        return None

    def _order(
        self, pending: PendingOrder, service: str, countries: list[str | None], operator: str | None
    ) -> dict[str, Any]:
        order = order_activation(self.hook, self.log, service, countries, operator)
        activation_id, labels = order["activation_id"], Labels.of_order(order)
        cancel = self.hook.cancel_activation
        remember(pending, order, lambda: cancel(activation_id, allow_closed=True, labels=labels))
        self.log.info(
            "Ordered activation %s: +%s, expires %s", activation_id, order["phone"], order["expires_at"]
        )
        return order


class OnlineSimSetStatusOperator(_OnlineSimCloseOperator):
    """Set an activation's status: ``ready``, ``request_another_code``, ``complete``, ``cancel``, ``close``.

    ``close`` is the cleanup status, meant for a teardown: it reads the activation's state
    (``getStatus``) and completes it when a code arrived, or cancels it (money back) when none
    did; an activation that is already closed is left as it is. ``cancel`` sends the connection's
    cancel status (6 on OnlineSIM, 8 on SMS-Activate-style servers).

    With a closing status (``complete``, ``cancel``, ``close``) and no activation to close (the
    ordering task pushed nothing), the task is skipped with a one-line reason. A teardown, and
    any task with ``allow_closed=True``, treats an activation that is already closed as done
    (``"already_closed": true``).

    Returns ``{"activation_id", "status", "reply", "already_closed", "closed_as"}``; ``closed_as``
    is ``complete`` or ``cancel`` for a ``close`` that closed the activation, else ``None``.

    .. code-block:: python

        order = OnlineSimGetNumberOperator(task_id="order", service="tg").as_setup()
        close = OnlineSimSetStatusOperator(
            task_id="close", activation_id=order.output["activation_id"], status="close"
        ).as_teardown(setups=order)

    :param activation_id: the activation id, or ``order.output["activation_id"]``. (templated)
    :param status: one of ``ready``, ``request_another_code``, ``complete``, ``cancel``,
        ``close``. (templated)
    :param allow_closed: succeed when a closing status finds the activation already closed
        (always so for a teardown and for ``close``).
    :param order: the ordering task's result (``order.output``), for the metrics' service and
        country. (templated)
    :param onlinesim_conn_id: the ``onlinesim`` connection.
    """

    template_fields: Sequence[str] = ("activation_id", "status", "order")
    id_field = "activation_id"

    def __init__(self, *, activation_id: Any, status: str, allow_closed: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation_id = activation_id
        self.status = status
        self.allow_closed = allow_closed
        _check_literals((activation_id, inputs.activation_id), (status, _activation_status))

    def execute(self, context: Context) -> dict[str, Any]:
        """Send the named status for the activation; skip when there is none to close."""
        status = _activation_status(self.status)
        raw_id = self._order_id_or_skip() if status in CLOSING_STATUSES else self.activation_id
        activation_id = inputs.activation_id(raw_id)
        with airflow_errors(f"Setting activation {activation_id} to {status!r}"):
            sent = self._closing_status(activation_id) if status == "close" else status
            reply = None if sent is None else self._send(activation_id, sent, status == "close")
        if reply is None:
            self.log.info("Activation %s was already closed", activation_id)
        return {
            "activation_id": activation_id,
            "status": status,
            "reply": reply.value if reply is not None else None,
            "already_closed": reply is None,
            "closed_as": sent if status == "close" and reply is not None else None,
        }

    def _closing_status(self, activation_id: int) -> str | None:
        """Return ``complete`` once a code arrived, ``cancel`` before, ``None`` when already closed."""
        state = self.hook.client.get_status(activation_id).state
        if state is ActivationState.CANCEL:
            return None
        if state in (ActivationState.OK, ActivationState.WAIT_RETRY):
            return "complete"
        return "cancel"

    def _send(self, activation_id: int, status: str, closing: bool) -> Any:
        if status == "ready":
            return self.hook.client.mark_ready(activation_id)
        if status == "request_another_code":
            return self.hook.client.request_another_code(activation_id)
        allow_closed = closing or self._tolerates_closed(self.allow_closed)
        if status == "complete":
            return self.hook.complete_activation(activation_id, allow_closed=allow_closed)
        return self.hook.cancel_activation(activation_id, allow_closed=allow_closed, labels=self._labels())


def _activation_status(value: object) -> str:
    return inputs.choice("status", value, ACTIVATION_STATUSES)


class OnlineSimGetRentNumberOperator(_OnlineSimOperator):
    """Rent a number that receives every service's SMS for ``hours``; return it as a JSON dict.

    A retry of the task never pays twice: a rent made by an earlier try is reused while the
    account's rent list still shows it. A rent whose order outcome is unknown (the reply was lost)
    is looked up in the rent list and adopted when it is there.

    Returns ``{"rent_id", "phone", "country", "hours", "ordered_at", "end_date",
    "first_sms_deadline"}``, each key also pushed as its own XCom (``rent.output["rent_id"]``);
    the server closes and refunds a rent that gets no SMS by ``first_sms_deadline`` (20 minutes).
    Use it as the setup of an ``OnlineSimSetRentStatusOperator`` teardown.

    The rent is recorded for the task's retries; the record is forgotten when the task succeeds,
    and when it fails for good the rent it names is closed first.

    .. code-block:: python

        rent = OnlineSimGetRentNumberOperator(task_id="rent", country="7", hours=4)
        close = OnlineSimSetRentStatusOperator(
            task_id="close", rent_id=rent.output["rent_id"]
        ).as_teardown(setups=rent)

    :param country: the country key. (templated)
    :param hours: the rent period in hours; the server rounds it up to whole days. (templated)
    :param onlinesim_conn_id: the ``onlinesim`` connection.
    """

    template_fields: Sequence[str] = ("country", "hours")

    def __init__(self, *, country: str, hours: int | str = 1, **kwargs: Any) -> None:
        kwargs.setdefault("multiple_outputs", True)
        super().__init__(**kwargs)
        self.country = country
        self.hours = hours
        with_order_callbacks(self, "rent", self._close_recorded)
        _check_literals((country, inputs.rent_country), (hours, inputs.hours))

    def execute(self, context: Context) -> dict[str, Any]:
        """Reuse the rent an earlier try made, or rent a number in the country."""
        country, hours = inputs.rent_country(self.country), inputs.hours(self.hours)
        pending = PendingOrder.of_task("rent", context)
        return storable_outputs(
            self._reattach(pending) or self._rent(pending, country, hours), self.multiple_outputs
        )

    def _open_rents(self) -> dict[int, Rent]:
        with airflow_errors("Listing the account's open rents"):
            return {rent.id: rent for rent in self.hook.client.get_rent_list()}

    def _close_recorded(self, context: Context, order: dict[str, Any]) -> None:
        """Close the rent a try left when the task failed for good (a closed one is fine)."""
        self.log.info("Closing rent %s: the renting task failed", order["rent_id"])
        self.hook.close_rent(order["rent_id"], allow_closed=True, labels=_rent_labels(order))

    def _reattach(self, pending: PendingOrder) -> dict[str, Any] | None:
        order = pending.load_earlier()
        if order is None:
            return None
        if order["rent_id"] in self._open_rents():
            if not pending.from_earlier_run:
                self.log.info("Reusing rent %s (%s) made by an earlier try", order["rent_id"], order["phone"])
                return order
            self.log.info("Closing rent %s left by a run before the task was cleared", order["rent_id"])
            with airflow_errors(f"Closing rent {order['rent_id']} left by an earlier run"):
                self.hook.close_rent(order["rent_id"], allow_closed=True, labels=_rent_labels(order))
        pending.clear()
        return None

    def _rent(self, pending: PendingOrder, country: str, hours: int) -> dict[str, Any]:
        before = self._open_rents()
        doing = f"Renting a number in country {country!r} for {hours} h"
        labels = Labels(RENT_SERVICE, country).with_dag()
        try:
            rent = self.hook.client.get_rent_number(country, hours)
        except OnlineSimError as error:
            count_error(error, labels)
            if not isinstance(error, OutcomeUnknownError):
                raise airflow_error(error, doing) from error
            rent = self._reconcile(before, error, doing)
        count(RENT_OPENED, labels)
        ordered_at = _now()
        order = {
            **rent.to_dict(),
            "country": country,
            "hours": hours,
            "ordered_at": ordered_at.isoformat(),
            "first_sms_deadline": (ordered_at + RENT_FIRST_SMS_WINDOW).isoformat(),
        }
        remember(pending, order, lambda: self.hook.close_rent(rent.id, labels=labels))
        self.log.info("Rented number %s (rent %s) until %s", rent.phone, rent.id, order["end_date"])
        return order

    def _reconcile(self, before: dict[int, Rent], error: OutcomeUnknownError, doing: str) -> Rent:
        """Find the rent a lost reply was about: the one new entry of the rent list."""
        new = [rent for rent_id, rent in self._open_rents().items() if rent_id not in before]
        if len(new) != 1:
            raise airflow_error(error, doing) from error
        self.log.warning(
            "The reply to the rent order was lost; found the new rent %s in the rent list", new[0].id
        )
        return new[0]


class OnlineSimSetRentStatusOperator(_OnlineSimCloseOperator):
    """Close a rented number (``close``: the connection's ``rent_close_status``, 2 by default; ``finish``: 1).

    Meant for a teardown: with no rent to close (the renting task pushed nothing) the task is
    skipped with a one-line reason; a teardown, and any task with ``allow_closed=True``, treats a
    rent that is already finished or cancelled as done (``"already_closed": true``). The server
    refunds a rent closed before its first SMS.

    Returns ``{"rent_id", "status", "already_closed"}``.

    .. code-block:: python

        rent = OnlineSimGetRentNumberOperator(task_id="rent", country="7")
        close = OnlineSimSetRentStatusOperator(
            task_id="close", rent_id=rent.output["rent_id"]
        ).as_teardown(setups=rent)

    :param rent_id: the rent id, or ``rent.output["rent_id"]``. (templated)
    :param status: ``close`` (default) or ``finish``. (templated)
    :param allow_closed: succeed when the rent is already closed (always so for a teardown).
    :param order: the renting task's result (``rent.output``), for the metrics' country. (templated)
    :param onlinesim_conn_id: the ``onlinesim`` connection.
    """

    template_fields: Sequence[str] = ("rent_id", "status", "order")
    id_field = "rent_id"
    metric_service = RENT_SERVICE

    def __init__(
        self, *, rent_id: Any, status: str = "close", allow_closed: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.rent_id = rent_id
        self.status = status
        self.allow_closed = allow_closed
        _check_literals((rent_id, inputs.rent_id), (status, _rent_status))

    def execute(self, context: Context) -> dict[str, Any]:
        """Close the rent; skip when there is none."""
        status = _rent_status(self.status)
        rent_id = inputs.rent_id(self._order_id_or_skip())
        with airflow_errors(f"Setting rent {rent_id} to {status!r}"):
            closed = self.hook.close_rent(
                rent_id,
                allow_closed=self._tolerates_closed(self.allow_closed),
                # "close" sends the connection's close status (rent_close_status: 2, or 1 on
                # SMS-Activate-style servers), as every other close of a rent does.
                status=None if status == "close" else RENT_STATUSES[status],
                labels=self._labels(),
            )
        if not closed:
            self.log.info("Rent %s was already closed", rent_id)
        return {"rent_id": rent_id, "status": status, "already_closed": not closed}


def _rent_labels(order: dict[str, Any]) -> Labels:
    return Labels.of_order(order, service=RENT_SERVICE)


def _rent_status(value: object) -> str:
    return inputs.choice("status", value, RENT_STATUSES)


class OnlineSimGetBalanceOperator(_OnlineSimOperator):
    """Read the account balance; fail the task when it is below ``minimum``.

    Put it before the ordering tasks so a DAG stops before spending anything it cannot afford.

    Returns ``{"balance": "<decimal string>"}``.

    .. code-block:: python

        balance = OnlineSimGetBalanceOperator(task_id="balance", minimum="25.00")

    :param minimum: the lowest acceptable balance (a decimal or decimal string), if any. (templated)
    :param onlinesim_conn_id: the ``onlinesim`` connection.
    """

    template_fields: Sequence[str] = ("minimum",)

    def __init__(self, *, minimum: str | int | float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minimum = minimum
        _check_literals((minimum, inputs.minimum))

    def execute(self, context: Context) -> dict[str, Any]:
        """Read the balance and check it against the minimum."""
        minimum = inputs.minimum(self.minimum)
        with airflow_errors("Reading the account balance"):
            balance = self.hook.client.get_balance()
        if minimum is not None and balance.amount < minimum:
            raise AirflowFailException(
                f"The balance {balance.amount} is below the required minimum {minimum}: "
                "top up the OnlineSIM account."
            )
        self.log.info("Balance: %s", balance.amount)
        return balance.to_dict()
