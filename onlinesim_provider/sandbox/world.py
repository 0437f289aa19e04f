"""The default world of the sandbox: countries, services, prices and stock."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["SANDBOX_COUNTRIES", "SANDBOX_SERVICES", "CountryInfo", "World"]


@dataclass(frozen=True)
class CountryInfo:
    """One country, keyed by its dialing code as OnlineSIM does.

    :param code: the dialing code, which is also the country id (``"7"``).
    :param eng: English name.
    :param rus: Russian name.
    :param national_length: digits of a national number (without the country code).
    """

    code: str
    eng: str
    rus: str
    national_length: int


SANDBOX_COUNTRIES: tuple[CountryInfo, ...] = (
    CountryInfo("7", "Russia", "Россия", 10),
    CountryInfo("380", "Ukraine", "Украина", 9),
    CountryInfo("1", "USA", "США", 10),
    CountryInfo("44", "United Kingdom", "Великобритания", 10),
    CountryInfo("49", "Germany", "Германия", 10),
    CountryInfo("33", "France", "Франция", 9),
    CountryInfo("48", "Poland", "Польша", 9),
    CountryInfo("77", "Kazakhstan", "Казахстан", 9),
)

#: Service code -> (name shown in rent SMS, price of one activation).
SANDBOX_SERVICES: dict[str, tuple[str, str]] = {
    "tg": ("telegram", "10.00"),
    "wa": ("whatsapp", "12.00"),
    "vk": ("vkontakte", "8.00"),
    "google": ("google", "9.00"),
    "mt": ("steam", "7.50"),
    "ig": ("instagram", "11.00"),
    "fb": ("facebook", "10.50"),
    "tw": ("twitter", "9.50"),
}

DEFAULT_STOCK = 50
DEFAULT_RENT_STOCK = 20
DEFAULT_RENT_PRICE = Decimal("60.00")


@dataclass
class World:
    """Mutable catalogue of one sandbox: what can be bought, at which price, how many are left."""

    countries: dict[str, CountryInfo] = field(default_factory=lambda: {c.code: c for c in SANDBOX_COUNTRIES})
    prices: dict[str, Decimal] = field(
        default_factory=lambda: {code: Decimal(price) for code, (_, price) in SANDBOX_SERVICES.items()}
    )
    stock: dict[tuple[str, str], int] = field(
        default_factory=lambda: {
            (c.code, s): DEFAULT_STOCK for c in SANDBOX_COUNTRIES for s in SANDBOX_SERVICES
        }
    )
    rent_prices: dict[str, Decimal] = field(
        default_factory=lambda: {c.code: DEFAULT_RENT_PRICE for c in SANDBOX_COUNTRIES}
    )
    rent_stock: dict[str, int] = field(
        default_factory=lambda: {c.code: DEFAULT_RENT_STOCK for c in SANDBOX_COUNTRIES}
    )

    def service_name(self, service: str) -> str:
        """Return the human name of a service code (the code itself when unknown).

        :param service: a service code such as ``tg``.
        """
        return SANDBOX_SERVICES.get(service, (service, ""))[0]

    def phone(self, country: str, serial: int, *, international: bool) -> str:
        """Return a deterministic phone number for the ``serial``-th number of ``country``.

        :param country: the country id (dialing code).
        :param serial: a sequence number making the number unique.
        :param international: prefix the country code (no ``+``).
        """
        info = self.countries[country]
        national = "9" + str(serial % 10 ** (info.national_length - 1)).zfill(info.national_length - 1)
        return country + national if international else national
