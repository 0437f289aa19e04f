"""The sandbox's default world: countries by dialing code, services, prices, stock and phone numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from onlinesim_provider.sandbox.world import SANDBOX_COUNTRIES, SANDBOX_SERVICES, World

pytestmark = pytest.mark.no_airflow


@pytest.mark.parametrize(
    ("country", "serial", "international", "expected"),
    [
        pytest.param("7", 1, False, "9000000001", id="russia-national"),
        pytest.param("7", 1, True, "79000000001", id="russia-international"),
        pytest.param("380", 42, True, "380900000042", id="ukraine-9-digits"),
        pytest.param("44", 10**9 + 5, False, "9000000005", id="serial-wraps-to-length"),
    ],
)
def test_phone_is_deterministic_and_sized_per_country(
    country: str, serial: int, international: bool, expected: str
) -> None:
    assert World().phone(country, serial, international=international) == expected


def test_phone_length_matches_each_country() -> None:
    world = World()
    for info in SANDBOX_COUNTRIES:
        phone = world.phone(info.code, 123, international=False)
        assert len(phone) == info.national_length, info.code
        assert phone.isdigit()


def test_unknown_country_has_no_phone() -> None:
    with pytest.raises(KeyError, match="999"):
        World().phone("999", 1, international=True)


@pytest.mark.parametrize(
    ("service", "name"),
    [pytest.param("tg", "telegram", id="known"), pytest.param("uber", "uber", id="unknown-keeps-code")],
)
def test_service_name(service: str, name: str) -> None:
    assert World().service_name(service) == name


def test_default_catalogue_covers_every_country_and_service() -> None:
    world = World()
    assert set(world.countries) == {c.code for c in SANDBOX_COUNTRIES}
    assert world.prices["tg"] == Decimal("10.00")
    assert len(world.stock) == len(SANDBOX_COUNTRIES) * len(SANDBOX_SERVICES)
    assert set(world.rent_prices) == set(world.rent_stock) == set(world.countries)


def test_each_world_owns_its_stock() -> None:
    first, second = World(), World()
    first.stock["7", "tg"] = 0
    first.prices["tg"] = Decimal("1")
    assert second.stock["7", "tg"] == 50
    assert second.prices["tg"] == Decimal("10.00")


def test_sms_activate_world_numbers_countries_from_0_russia() -> None:
    world = World.for_dialect("sms-activate")
    assert world.default_country == "0"
    assert world.countries["0"].eng == "Russia"
    assert world.countries["187"].eng == "USA"
    assert set(world.countries) == {info.sms_activate_id for info in SANDBOX_COUNTRIES}
    assert world.stock[("0", "tg")] == World().stock[("7", "tg")]
    assert set(world.rent_stock) == set(world.rent_prices) == set(world.countries)
    assert world.phone("0", 1, international=True) == "79000000001"
    assert world.phone("187", 1, international=True) == "19000000001"


def test_onlinesim_world_keeps_dialing_codes() -> None:
    world = World.for_dialect("onlinesim")
    assert (world.default_country, world.countries) == ("7", World().countries)
