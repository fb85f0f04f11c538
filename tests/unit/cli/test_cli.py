"""`lepton operator` refuses bad settings before it touches the cluster."""

from __future__ import annotations

import pytest

from lepton.cli.main import main


def test_bad_setting_exits_2_with_a_message(monkeypatch, capsys):
    monkeypatch.setenv("LEPTON_RESTART_BACKOFF_SECONDS", "-1")
    assert main(["operator"]) == 2
    assert "LEPTON_RESTART_BACKOFF_SECONDS" in capsys.readouterr().err


def test_unknown_flag_value_is_a_usage_error():
    with pytest.raises(SystemExit) as exc:
        main(["operator", "--log-format", "xml"])
    assert exc.value.code == 2
