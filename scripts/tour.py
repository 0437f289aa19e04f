"""A short tour of the OnlineSIM client against the offline sandbox, printing each step.

Run it with ``.venv/bin/python scripts/tour.py``: it starts a sandbox on a free loopback port,
orders a number, has the sandbox deliver an SMS, reads the code, closes the order and prints what
the sandbox's ledger recorded. No network, no key, no money.
"""

from __future__ import annotations

from onlinesim_provider.api import OnlineSimClient
from onlinesim_provider.sandbox import SandboxConfig, SandboxServer


def main() -> None:
    """Walk through one activation, from balance to ledger."""
    with (
        SandboxServer(SandboxConfig(balance="100.00")) as server,
        OnlineSimClient(server.api_key, base_url=server.url) as client,
    ):
        print(f"1. sandbox running at {server.url}; client: {client!r}")
        print(f"2. balance: {client.get_balance().amount}")

        activation = client.get_number("tg", country="7")
        print(f"3. ordered activation {activation.id} for 'tg': phone {activation.phone}")
        print(f"   status now: {client.get_status(activation.id).state.value}")

        sms = server.control.deliver_sms(activation.id, code="070501")
        print(f"4. the sandbox delivered an SMS: {sms['text']!r}")

        status = client.get_status(activation.id)
        print(f"5. status: {status.state.value}, code {status.code}")
        print(f"   full text: {client.get_full_sms(activation.id).text!r}")

        print(f"6. closed the order: {client.complete_activation(activation.id).value}")

        print(f"7. final balance: {client.get_balance().amount}")
        summary = server.control.summary()
        print(
            f"8. ledger: {summary['orders']} order(s), charged {summary['charged']}, "
            f"refunded {summary['refunded']}, completed {summary['completed']}, "
            f"open activations {summary['open_activations']}"
        )
        for event in server.control.ledger():
            details = {k: v for k, v in event.items() if k not in ("seq", "time", "event")}
            print(f"   #{event['seq']} {event['event']}: {details}")


if __name__ == "__main__":
    main()
