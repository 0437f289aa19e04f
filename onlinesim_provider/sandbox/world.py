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
    :param sms_activate_id: the country's id on SMS-Activate-style servers (0 = Russia).
    """

    code: str
    eng: str
    rus: str
    national_length: int
    sms_activate_id: str

    def id_in(self, dialect: str) -> str:
        """Return the country's id in ``dialect``: the dialing code, or SMS-Activate's number.

        :param dialect: ``"onlinesim"`` or ``"sms-activate"``.
        """
        return self.sms_activate_id if dialect == "sms-activate" else self.code


SANDBOX_COUNTRIES: tuple[CountryInfo, ...] = (
    CountryInfo("7", "Russia", "Россия", 10, "0"),
    CountryInfo("380", "Ukraine", "Украина", 9, "1"),
    CountryInfo("1", "USA", "США", 10, "187"),
    CountryInfo("44", "United Kingdom", "Великобритания", 10, "16"),
    CountryInfo("49", "Germany", "Германия", 10, "43"),
    CountryInfo("33", "France", "Франция", 9, "78"),
    CountryInfo("48", "Poland", "Польша", 9, "15"),
    CountryInfo("77", "Kazakhstan", "Казахстан", 9, "2"),
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
    #: The country of ``getNumber`` and the catalogue actions when none is given (Russia).
    default_country: str = "7"

    @classmethod
    def for_dialect(cls, dialect: str) -> World:
        """Return the default world with the country ids of ``dialect`` (SMS-Activate: 0 = Russia).

        :param dialect: ``"onlinesim"`` or ``"sms-activate"``.
        """
        world = cls()
        ids = {info.code: info.id_in(dialect) for info in SANDBOX_COUNTRIES}
        world.countries = {ids[code]: info for code, info in world.countries.items()}
        world.stock = {(ids[country], service): n for (country, service), n in world.stock.items()}
        world.rent_prices = {ids[code]: price for code, price in world.rent_prices.items()}
        world.rent_stock = {ids[code]: count for code, count in world.rent_stock.items()}
        world.default_country = ids[world.default_country]
        return world

    def service_name(self, service: str) -> str:
        """Return the human name of a service code (the code itself when unknown).

        :param service: a service code such as ``tg``.
        """
        return SANDBOX_SERVICES.get(service, (service, ""))[0]

    def phone(self, country: str, serial: int, *, international: bool) -> str:
        """Return a deterministic phone number for the ``serial``-th number of ``country``.

        :param country: the country id.
        :param serial: a sequence number making the number unique.
        :param international: prefix the dialing code (no ``+``).
        """
        info = self.countries[country]
        national = "9" + str(serial % 10 ** (info.national_length - 1)).zfill(info.national_length - 1)
        return info.code + national if international else national
