"""``python -m deploy``'s command line: the LocalExecutor deployment stays the default."""

from __future__ import annotations

import pytest

from deploy.__main__ import parse_args


def test_the_default_is_the_local_executor_deployment() -> None:
    args = parse_args([])
    assert (args.distributed, args.sms_delay, args.keep, args.budget) == (False, 5.0, False, 900.0)


def test_distributed_is_one_switch() -> None:
    assert parse_args(["--distributed", "--keep"]).distributed is True


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sms-delay", "-1"], "--sms-delay: expected seconds >= 0, got -1.0"),
        (["--budget", "0"], "--budget: expected seconds > 0, got 0.0"),
    ],
    ids=["negative-delay", "zero-budget"],
)
def test_a_bad_value_is_refused_naming_it(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
