"""Operators for OnlineSIM: order a number, set its status, rent a number, check the balance.

Each operator checks its arguments when the DAG is parsed (literal values) and again after
templating, and fails without retry on a bad value before anything is ordered. API errors become
Airflow exceptions through the hook's ``airflow_errors``: transient ones may be retried.
"""

from __future__ import annotations

from datetime import datetime, timedelta
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

from onlinesim_provider.api.errors import OnlineSimError, OutcomeUnknownError
from onlinesim_provider.api.models import RENT_FIRST_SMS_WINDOW, ActivationState
from onlinesim_provider.hooks.onlinesim import OnlineSimHook, airflow_error, airflow_errors
from onlinesim_provider.metrics import RENT_OPENED, RENT_SERVICE, Labels, count
from onlinesim_provider.metrics import error as count_error
from onlinesim_provider.operators._paid_order import (
    PaidOrder,
    add_record_callbacks,
    order_activation,
    still_serves,
)
from onlinesim_provider.version_compat import AIRFLOW_V_3_0_PLUS, storable_outputs
from onlinesim_provider.waits import inputs
from onlinesim_provider.waits.deadline import utcnow

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import jinja2
    from airflow.providers.common.compat.sdk import Context

    from onlinesim_provider.api.models import Rent, SetStatusReply

__all__ = [
    "OnlineSimGetBalanceOperator",
    "OnlineSimGetNumberOperator",
    "OnlineSimGetRentNumberOperator",
    "OnlineSimSetRentStatusOperator",
    "OnlineSimSetStatusOperator",
]

#: The ``status`` names of OnlineSimSetStatusOperator.
ACTIVATION_STATUS_NAMES = ("ready", "request_another_code", "complete", "cancel", "close")
#: The names that close an activation: with no activation to close, a teardown skips.
CLOSING_STATUS_NAMES = ("complete", "cancel", "close")
#: The ``status`` names of OnlineSimSetRentStatusOperator and the setRentStatus value each sends
#: (``close``: the connection's ``rent_close_status``).
RENT_STATUS_NAMES: dict[str, int | None] = {"close": None, "finish": 1}


def _check_literals(*checks: tuple[object, Callable[[object], object]]) -> None:
    """Run each check on its value unless the value is still a template or an XCom reference."""
    for value, check in checks:
        if inputs.resolved(value):
            check(value)


class _OnlineSimOperator(BaseOperator):
    """Base of the OnlineSIM operators: the connection id and a lazily built hook."""

    def __init__(self, *, onlinesim_conn_id: str = OnlineSimHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.onlinesim_conn_id = onlinesim_conn_id

    @cached_property
    def hook(self) -> OnlineSimHook:
        """Return the hook of this task's connection (building it does no I/O)."""
        return OnlineSimHook(onlinesim_conn_id=self.onlinesim_conn_id)

    def _cancel(self, order: dict[str, Any]) -> None:
        """Cancel an ordered number so its price comes back; one already closed is fine."""
        activation_id, labels = order["activation_id"], Labels.of_order(order)
        if self.hook.cancel_activation(activation_id, allow_closed=True, labels=labels) is None:
            self.log.info("Activation %s was already closed", activation_id)
        else:
            self.log.info("Cancelled activation %s so that its price is refunded", activation_id)


class _OnlineSimCloseOperator(_OnlineSimOperator):
    """Base of the closing operators: a teardown that skips when there is nothing to close.

    When the ordering task pushed nothing (it failed, was skipped or never ran), the order's id
    cannot be resolved (``XComNotFound``, a Jinja ``UndefinedError``, or a template rendered as
    ``None``): a teardown then ends as skipped with a one-line reason, instead of failing and
    being retried. As a teardown it runs once everything before it is done (``all_done``).
    """

    #: The template field that holds the order's id.
    id_field: str = ""
    #: The ``service`` label when the order has none.
    metric_service: str | None = None
    _unresolved: str | None = None

    def __init__(self, *, allow_closed: bool = False, order: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.allow_closed = allow_closed
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
        """Render the template fields; in a teardown, an order id that cannot be resolved is ``None``."""
        jinja_env = jinja_env or self.get_template_env()
        self._unresolved = self._setup_without_output(context) if self.is_teardown else None
        for name in self.template_fields:
            if self._unresolved is not None and name in (self.id_field, "order"):
                setattr(self, name, None)
                continue
            try:
                value = self.render_template(getattr(self, name), context, jinja_env, set())
            except (XComNotFound, UndefinedError) as error:
                if name == "order":  # only the metrics' labels are lost
                    value = None
                elif name == self.id_field and self.is_teardown:
                    value, self._unresolved = None, " ".join(f"{type(error).__name__}: {error}".split())
                else:  # outside a teardown a missing id is the DAG's mistake
                    raise
            setattr(self, name, value)

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
        """Return the rendered order id; a teardown with none raises ``AirflowSkipException``."""
        value = getattr(self, self.id_field)
        if self.is_teardown and (value is None or (isinstance(value, str) and value.strip() in ("", "None"))):
            why = self._unresolved or f"it rendered as {value!r}"
            raise AirflowSkipException(
                f"Nothing to close: no {self.id_field} ({why}); the ordering task handed on no order."
            )
        return value

    def _allows_closed(self) -> bool:
        return self.allow_closed or bool(self.is_teardown)


class OnlineSimGetNumberOperator(_OnlineSimOperator):
    """Order a number that receives one service's SMS; return it as a JSON dict.

    ``country`` may be a list, tried in order while the server answers ``NO_NUMBERS``. A retry
    reuses the number an earlier try bought, asking for another code if it already got an SMS,
    while it has ``reattach_min_left`` of life and the same service; else it cancels it first.

    Returns ``{"activation_id", "phone", "service", "country", "ordered_at", "expires_at"}``, each
    key also its own XCom (``order.output["activation_id"]``).

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
    #: A number an earlier try bought is reused only with at least this much life left.
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
        self.service, self.country, self.operator = service, country, operator
        add_record_callbacks(self, "activation", self._cancel)
        _check_literals(
            (service, inputs.service), (country, inputs.country_list), (operator, inputs.operator)
        )

    def execute(self, context: Context) -> dict[str, Any]:
        """Reuse the number an earlier try bought, or order one in the first country that has one."""
        service, countries = inputs.service(self.service), inputs.country_list(self.country)
        operator = inputs.operator(self.operator)
        record = PaidOrder("activation", context)
        order = self._reuse(record, service)
        if order is None:
            order = order_activation(self.hook, service, countries, operator)
            record.save(order, undo=lambda: self._cancel(order))
            self.log.info("Ordered and recorded activation %s: +%s", order["activation_id"], order["phone"])
        return storable_outputs(order, self.multiple_outputs)

    def _reuse(self, record: PaidOrder, service: str) -> dict[str, Any] | None:
        """Return the number an earlier try of this run bought while it can serve; else cancel it."""
        with airflow_errors("Checking the number an earlier try ordered"):
            order = record.take(self._cancel)
            if order is None:
                return None
            life_left = datetime.fromisoformat(order["expires_at"]) - utcnow()
            if (
                order["service"] == service
                and life_left >= self.reattach_min_left
                and still_serves(self.hook, order["activation_id"])
            ):
                self.log.info("Reusing activation %s, ordered by an earlier try", order["activation_id"])
                return order
            self._cancel(order)
        record.clear()
        return None


class OnlineSimSetStatusOperator(_OnlineSimCloseOperator):
    """Set an activation's status: ``ready``, ``request_another_code``, ``complete``, ``cancel``, ``close``.

    ``close`` is the cleanup status, meant for a teardown: it completes the activation when a code
    arrived (``getStatus``), cancels it (money back) when none did, and leaves a closed one alone.
    ``cancel`` sends the connection's cancel status (6 on OnlineSIM, 8 on SMS-Activate-style
    servers).

    Returns ``{"activation_id", "status", "reply", "already_closed", "closed_as"}``; ``closed_as``
    is ``complete`` or ``cancel`` for a ``close`` that closed the activation, else ``None``.

    .. code-block:: python

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

    def __init__(self, *, activation_id: Any, status: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation_id = activation_id
        self.status = status
        _check_literals((activation_id, inputs.activation_id), (status, _activation_status))

    def execute(self, context: Context) -> dict[str, Any]:
        """Send the named status for the activation; skip when there is none to close."""
        status = _activation_status(self.status)
        raw_id = self._order_id_or_skip() if status in CLOSING_STATUS_NAMES else self.activation_id
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
        status = self.hook.client.get_status(activation_id)
        if status.state is ActivationState.CANCEL:
            return None
        return "cancel" if status.code is None else "complete"

    def _send(self, activation_id: int, status: str, closing: bool) -> SetStatusReply | None:
        allow_closed = closing or self._allows_closed()
        if status == "ready":
            return self.hook.client.mark_ready(activation_id)
        if status == "request_another_code":
            return self.hook.client.request_another_code(activation_id)
        if status == "complete":
            return self.hook.complete_activation(activation_id, allow_closed=allow_closed)
        return self.hook.cancel_activation(activation_id, allow_closed=allow_closed, labels=self._labels())


def _activation_status(value: object) -> str:
    return inputs.choice("status", value, ACTIVATION_STATUS_NAMES)


class OnlineSimGetRentNumberOperator(_OnlineSimOperator):
    """Rent a number that receives every service's SMS for ``hours``; return it as a JSON dict.

    A retry reuses the rent an earlier try made while the account's rent list shows it; a rent
    whose order reply was lost is found in the rent list and adopted. The server closes and
    refunds a rent that gets no SMS by ``first_sms_deadline`` (20 minutes).

    Returns ``{"rent_id", "phone", "country", "hours", "ordered_at", "end_date",
    "first_sms_deadline"}``, each key also its own XCom (``rent.output["rent_id"]``).

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
        self.country, self.hours = country, hours
        add_record_callbacks(self, "rent", self._close)
        _check_literals((country, inputs.rent_country), (hours, inputs.hours))

    def execute(self, context: Context) -> dict[str, Any]:
        """Reuse the rent an earlier try made, or rent a number in the country."""
        country, hours = inputs.rent_country(self.country), inputs.hours(self.hours)
        record = PaidOrder("rent", context)
        order = record.take(self._close)
        if order is not None and order["rent_id"] in self._open_rents():
            self.log.info("Reusing rent %s, made by an earlier try", order["rent_id"])
        else:
            order = self._rent(country, hours)
            record.save(order, undo=lambda: self._close(order))
        return storable_outputs(order, self.multiple_outputs)

    def _open_rents(self) -> dict[int, Rent]:
        with airflow_errors("Listing the account's open rents"):
            return {rent.id: rent for rent in self.hook.client.get_rent_list()}

    def _close(self, order: dict[str, Any]) -> None:
        self.log.info("Closing rent %s", order["rent_id"])
        with airflow_errors(f"Closing rent {order['rent_id']}"):
            labels = Labels.of_order(order, service=RENT_SERVICE)
            self.hook.close_rent(order["rent_id"], allow_closed=True, labels=labels)

    def _rent(self, country: str, hours: int) -> dict[str, Any]:
        """Rent a number; a rent whose reply was lost is the one new entry of the rent list."""
        before = self._open_rents()
        doing = f"Renting a number in country {country!r} for {hours} h"
        labels = Labels(RENT_SERVICE, country).with_dag()
        try:
            rent = self.hook.client.get_rent_number(country, hours)
        except OnlineSimError as error:
            count_error(error, labels)
            new = [rent for rent_id, rent in self._open_rents().items() if rent_id not in before]
            if not isinstance(error, OutcomeUnknownError) or len(new) != 1:
                raise airflow_error(error, doing) from error
            self.log.warning(
                "The reply to the rent order was lost; found rent %s in the rent list", new[0].id
            )
            rent = new[0]
        count(RENT_OPENED, labels)
        self.log.info("Rented number %s (rent %s) until %s", rent.phone, rent.id, rent.end_date)
        ordered_at = utcnow()
        return {
            **rent.to_dict(),
            "country": country,
            "hours": hours,
            "ordered_at": ordered_at.isoformat(),
            "first_sms_deadline": (ordered_at + RENT_FIRST_SMS_WINDOW).isoformat(),
        }


class OnlineSimSetRentStatusOperator(_OnlineSimCloseOperator):
    """Close a rented number (``close``: the connection's ``rent_close_status``, 2 by default; ``finish``: 1).

    Meant for a teardown, which is skipped with a one-line reason when there is no rent to close.
    The server refunds a rent closed before its first SMS.

    Returns ``{"rent_id", "status", "already_closed"}``.

    .. code-block:: python

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

    def __init__(self, *, rent_id: Any, status: str = "close", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rent_id = rent_id
        self.status = status
        _check_literals((rent_id, inputs.rent_id), (status, _rent_status))

    def execute(self, context: Context) -> dict[str, Any]:
        """Close the rent; skip when there is none."""
        status = _rent_status(self.status)
        rent_id = inputs.rent_id(self._order_id_or_skip())
        with airflow_errors(f"Setting rent {rent_id} to {status!r}"):
            closed = self.hook.close_rent(
                rent_id,
                allow_closed=self._allows_closed(),
                status=RENT_STATUS_NAMES[status],
                labels=self._labels(),
            )
        if not closed:
            self.log.info("Rent %s was already closed", rent_id)
        return {"rent_id": rent_id, "status": status, "already_closed": not closed}


def _rent_status(value: object) -> str:
    return inputs.choice("status", value, RENT_STATUS_NAMES)


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
