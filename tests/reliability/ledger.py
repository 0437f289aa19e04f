"""Audit of the sandbox ledger: does the money add up, and where did every paid order end?

:func:`audit` reads the ledger, the activations and the rents of a sandbox and returns a
:class:`LedgerAudit`: the money totals, how each order ended, and every inconsistency found
(``problems``). Used after fuzzing the sandbox and after the chaos run.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onlinesim_provider.sandbox import SandboxControl

__all__ = ["LedgerAudit", "audit"]


@dataclass
class LedgerAudit:
    """What the ledger says, and what does not add up."""

    initial: Decimal
    balance: Decimal = Decimal("0")
    charged: Decimal = Decimal("0")
    refunded: Decimal = Decimal("0")
    activations: Counter[str] = field(default_factory=Counter)
    rents: Counter[str] = field(default_factory=Counter)
    #: Paid orders that kept their money: completed with a delivered code / rent with a message.
    used: int = 0
    #: Paid orders whose money came back.
    refunds: int = 0
    #: Orders that got their SMS but were closed by the sandbox (expired), not by their user.
    lost: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Return the summary as printable lines."""
        return [
            f"balance {self.initial} -> {self.balance}: charged {self.charged}, refunded {self.refunded}",
            f"activations: {sum(self.activations.values())} ordered, ended {_states(self.activations)}",
            f"rents: {sum(self.rents.values())} ordered, ended {_states(self.rents)}",
            f"paid orders kept (code or message delivered): {self.used}; refunded: {self.refunds}; "
            f"paid, delivered, then left to expire: {len(self.lost)}",
            f"problems: {len(self.problems)}",
        ]


def _states(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items()))


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def _check_sequence(ledger: list[dict[str, Any]], report: LedgerAudit) -> None:
    seqs = [event["seq"] for event in ledger]
    if seqs != list(range(1, len(ledger) + 1)):
        report.problems.append("ledger seq numbers are not 1..n in order")
    times = [event["time"] for event in ledger]
    if any(later < earlier for earlier, later in itertools.pairwise(times)):
        report.problems.append("ledger times go backwards")


def _check_money(ledger: list[dict[str, Any]], kind: str, order_event: str, report: LedgerAudit) -> None:
    """Each order of ``kind`` (activation_id / rent_id) is charged once and refunded at most once."""
    orders = {event[kind]: _money(event["amount"]) for event in ledger if event["event"] == order_event}
    charges = Counter(e[kind] for e in ledger if e["event"] == "charge" and kind in e)
    refunds = Counter(e[kind] for e in ledger if e["event"] == "refund" and kind in e)
    amounts = {
        (e["event"], e[kind]): _money(e["amount"])
        for e in ledger
        if e["event"] in ("charge", "refund") and kind in e
    }
    for order_id, price in orders.items():
        if charges[order_id] != 1:
            report.problems.append(f"{kind} {order_id} charged {charges[order_id]} times")
        if refunds[order_id] > 1:
            report.problems.append(f"{kind} {order_id} refunded {refunds[order_id]} times")
        for event in ("charge", "refund"):
            amount = amounts.get((event, order_id))
            if amount is not None and amount != price:
                report.problems.append(f"{kind} {order_id}: {event} {amount} != price {price}")
    strays = (set(charges) | set(refunds)) - set(orders)
    if strays:
        report.problems.append(f"money moved for unknown {kind}s {sorted(strays)}")


def _check_orders(
    records: list[dict[str, Any]],
    refunded_ids: set[int],
    kind: str,
    counter: Counter[str],
    report: LedgerAudit,
) -> None:
    for record in records:
        closed = record["closed_at"] is not None
        counter[record["state"]] += 1
        if record["refunded"] != (record["id"] in refunded_ids):
            report.problems.append(f"{kind} {record['id']}: refunded flag disagrees with the ledger")
        if record["refunded"] and (record["messages"] or not closed):
            report.problems.append(f"{kind} {record['id']} refunded although it got an SMS or is still open")
        if closed and not record["messages"] and not record["refunded"]:
            report.problems.append(f"{kind} {record['id']} closed without any SMS but not refunded")
        if closed and record["messages"]:
            report.used += 1
            if record["state"] == "expired":
                report.lost.append(f"{kind} {record['id']}")
        report.refunds += bool(record["refunded"])


def audit(control: SandboxControl, initial: Decimal | str) -> LedgerAudit:
    """Read the sandbox and check that its money and its orders add up.

    :param control: the sandbox.
    :param initial: the balance the run started from.
    """
    ledger = control.ledger()
    summary = control.summary()
    report = LedgerAudit(initial=_money(initial))
    report.balance = _money(summary["balance"])
    report.charged = sum((_money(e["amount"]) for e in ledger if e["event"] == "charge"), Decimal("0"))
    report.refunded = sum((_money(e["amount"]) for e in ledger if e["event"] == "refund"), Decimal("0"))
    _check_sequence(ledger, report)
    if report.balance != report.initial - report.charged + report.refunded:
        report.problems.append(
            f"balance {report.balance} != {report.initial} - {report.charged} + {report.refunded}"
        )
    _check_money(ledger, "activation_id", "order", report)
    _check_money(ledger, "rent_id", "rent_order", report)
    refunded = {e.get("activation_id") for e in ledger if e["event"] == "refund"}
    rent_refunded = {e.get("rent_id") for e in ledger if e["event"] == "refund"}
    activations, rents = control.activations(), control.rents()
    _check_orders(
        activations, {i for i in refunded if i is not None}, "activation", report.activations, report
    )
    _check_orders(rents, {i for i in rent_refunded if i is not None}, "rent", report.rents, report)
    if summary["orders"] != len(activations) or summary["rent_orders"] != len(rents):
        report.problems.append("summary order counters disagree with the orders")
    if _money(summary["charged"]) != report.charged or _money(summary["refunded"]) != report.refunded:
        report.problems.append("summary money disagrees with the ledger")
    return report
