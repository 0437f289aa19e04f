"""``@task.onlinesim_verification``: a number rotation whose submit step is the decorated function.

Airflow finds the decorator through the provider info's ``task-decorators``, as it finds
``@task.docker``.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    DecoratedOperator,
    context_merge,
    determine_kwargs,
    task_decorator_factory,
)

from onlinesim_provider.operators.rotation import NumberRejected, OnlineSimVerificationOperator

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping, Sequence

    from airflow.providers.common.compat.sdk import Context, TaskDecorator

__all__ = ["NumberRejected", "onlinesim_verification_task"]


def _check_receives_number(python_callable: Callable[..., object]) -> None:
    """Fail at parse time when the function cannot take the phone number and the order first."""
    try:
        inspect.signature(python_callable).bind_partial(None, None)
    except TypeError:
        name = getattr(python_callable, "__name__", repr(python_callable))
        raise TypeError(
            f"@task.onlinesim_verification function {name}() must take the phone number and the "
            "order as its first two arguments, e.g. def sign_up(phone, order): ..."
        ) from None


class _OnlineSimVerificationDecoratedOperator(DecoratedOperator, OnlineSimVerificationOperator):
    """``OnlineSimVerificationOperator`` whose submit step is the decorated function.

    :param python_callable: the decorated function: ``(phone, order, *op_args, **op_kwargs)``.
    :param op_args: positional arguments given where the task is called. (templated)
    :param op_kwargs: keyword arguments given where the task is called. (templated)
    """

    template_fields: Sequence[str] = (
        *DecoratedOperator.template_fields,
        *OnlineSimVerificationOperator.template_fields,
    )
    custom_operator_name: str = "@task.onlinesim_verification"

    def __init__(
        self,
        *,
        python_callable: Callable[..., object],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        _check_receives_number(python_callable)
        # Airflow checks that the call's arguments fill the function's parameters; the phone
        # number and the order are filled at run time, so it checks the rest only.
        super().__init__(
            python_callable=functools.partial(python_callable, None, None),
            op_args=op_args,
            op_kwargs=op_kwargs,
            **kwargs,
        )
        self.python_callable = python_callable

    def _submit(self, context: Context, phone: str, order: dict[str, Any]) -> object:
        context_merge(context, self.op_kwargs)
        args = [phone, order, *self.op_args]
        return self.python_callable(*args, **determine_kwargs(self.python_callable, args, context))


def onlinesim_verification_task(
    python_callable: Callable[..., object] | None = None, **kwargs: Any
) -> TaskDecorator:
    """Wrap a function into an ``OnlineSimVerificationOperator`` whose submit step it is.

    The function is called with the phone number and the order dict first, then the arguments
    given where the task is called (templated, XComs resolved) and the context values it names;
    it raises :class:`~onlinesim_provider.operators.rotation.NumberRejected` when the service
    refuses the number. The task's result is the operator's dict, each key also its own XCom.

    .. code-block:: python

        @task.onlinesim_verification(service="tg", country=["44", "7"], attempts=3, attempt_timeout=120)
        def sign_up(phone: str, order: dict, signup_url: str) -> None:
            post_signup_form(signup_url, phone)


        result = sign_up("https://example.com/signup")  # result["code"] is the working code

    :param python_callable: the function that hands ``(phone, order)`` to the service.
    :param kwargs: the operator's arguments.
    """
    kwargs.setdefault("multiple_outputs", True)
    return task_decorator_factory(
        python_callable=python_callable,
        decorated_operator_class=_OnlineSimVerificationDecoratedOperator,
        **kwargs,
    )
