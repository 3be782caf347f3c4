"""Power planning and the ``evalbot power`` command."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
from scipy import stats

from evalbot.cli import power as power_command
from evalbot.errors import UserError
from evalbot.stats import power


@pytest.mark.parametrize(
    ("discordance", "midp", "exact", "normal"),
    [(0.20, 0.476, 0.420, 0.474), (0.10, 0.741, 0.674, 0.725)],
)
def test_mcnemar_power_reference_values(discordance, midp, exact, normal):
    assert power.mcnemar_power(200, 0.05, discordance) == pytest.approx(midp, abs=0.001)
    assert power.mcnemar_power(200, -0.05, discordance, method="exact") == pytest.approx(
        exact, abs=0.001
    )
    assert power.mcnemar_power(200, 0.05, discordance, method="normal") == pytest.approx(
        normal, abs=0.001
    )


def test_mcnemar_power_vectorized_and_monotone_overall():
    ns = np.array([50, 100, 200, 400, 800])
    powers = power.mcnemar_power(ns, 0.05, 0.2)
    assert powers.shape == (5,)
    assert np.all(np.diff(powers) > 0)
    assert powers[2] == pytest.approx(power.mcnemar_power(200, 0.05, 0.2))


def test_mcnemar_sample_size():
    assert power.mcnemar_sample_size(0.05, 0.2, method="normal") == 493  # Connor 1987
    assert 240 <= power.mcnemar_sample_size(0.05, 0.1, method="normal") <= 246
    n = power.mcnemar_sample_size(0.05, 0.2)
    assert abs(n - 493) < 25
    assert power.mcnemar_power(n, 0.05, 0.2) >= 0.8
    assert power.mcnemar_power(n - 1, 0.05, 0.2) < 0.8


def test_mcnemar_mde_inverts_power():
    drop = power.mcnemar_mde(200, 0.2)
    assert power.mcnemar_power(200, drop, 0.2, method="normal") == pytest.approx(0.8)
    assert np.isnan(power.mcnemar_mde(10, 0.05))  # not even a full drop is detectable


def test_mcnemar_power_rejects_impossible_drop():
    with pytest.raises(ValueError):
        power.mcnemar_power(100, 0.3, 0.2)


def test_mean_power_sample_size_and_mde_are_consistent():
    z = stats.norm.ppf(0.95) + stats.norm.ppf(0.8)
    assert power.mde(1.0, 100) == pytest.approx(z / 10)
    assert power.mean_power(power.mde(0.7, 250), 0.7, 250) == pytest.approx(0.8)
    n = power.mean_sample_size(0.1, 0.8)
    assert power.mean_power(0.1, 0.8, n) >= 0.8 > power.mean_power(0.1, 0.8, n - 1)
    assert power.mde(1.0, np.array([100, 400])) == pytest.approx([z / 10, z / 20])


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="evalbot power")
    power_command.add_arguments(parser)
    return power_command.run(parser.parse_args(argv))


def test_cli_binary(capsys):
    assert _run(["--drop", "0.05", "--discordance", "0.2", "--n", "200"]) == 0
    out = capsys.readouterr().out
    assert "0.476" in out  # exact mid-p power
    assert "n needed for 80% power to show a 5-pt drop: 492" in out


def test_cli_continuous(capsys):
    assert _run(["--sd", "0.8", "--n", "100", "400", "--drop", "0.1"]) == 0
    out = capsys.readouterr().out
    assert f"{power.mde(0.8, 100):.4g}" in out
    assert f"{power.mean_sample_size(0.1, 0.8):,}" in out


def test_cli_mde_only(capsys):
    assert _run(["--discordance", "0.1", "--n", "300"]) == 0
    assert "MDE" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--drop", "0.3", "--discordance", "0.2"],
        ["--drop", "-0.05", "--discordance", "0.2"],
        ["--sd", "1"],
        ["--discordance", "1.5", "--n", "10"],
        ["--sd", "1", "--n", "0"],
    ],
)
def test_cli_bad_input_is_a_user_error(argv):
    with pytest.raises(UserError):
        _run(argv)
