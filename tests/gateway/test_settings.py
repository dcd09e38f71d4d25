"""One settings object for every command: environment beats the TOML file, CLI flags beat both."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("PMP_"):
            monkeypatch.delenv(key)


def test_defaults() -> None:
    s = load_settings()
    assert (s.store, s.state_code, s.port) == ("sqlite", "UT", 8080)
    assert s.sqlite_path == Path("var") / "pmpdb.sqlite3"


def test_environment_and_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "pmp.toml"
    config.write_text('state_code = "CT"\nport = 9000\ndata_dir = "/srv/pmp"\n')
    monkeypatch.setenv("PMP_CONFIG_FILE", str(config))
    monkeypatch.setenv("PMP_PORT", "9100")
    s = load_settings()
    assert s.state_code == "CT"  # from the file
    assert s.port == 9100  # the environment wins over the file
    assert s.sqlite_path == Path("/srv/pmp/pmpdb.sqlite3")
    assert load_settings(port=9200).port == 9200  # a CLI flag wins over both


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMP_STORE", "mysql")
    with pytest.raises(ValidationError):
        load_settings()


def test_unknown_keys_in_the_file_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "pmp.toml"
    config.write_text("prot = 1\n")
    monkeypatch.setenv("PMP_CONFIG_FILE", str(config))
    with pytest.raises(ValidationError):
        load_settings()


def test_cli_reports_invalid_settings_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pmpcli.main import main

    monkeypatch.setenv("PMP_PORT", "not-a-port")
    assert main(["ingest", "x.asap"]) == 2
    err = capsys.readouterr().err
    assert "invalid settings" in err and "Traceback" not in err


def test_serve_refuses_an_open_network_address_while_unauthenticated() -> None:
    from pmpcli.serve import refuse_open_network

    refuse_open_network(load_settings(), "0.0.0.0")  # authenticate and audit on (the defaults): any address
    settings = load_settings(audit=False)
    refuse_open_network(settings, "127.0.0.1")
    refuse_open_network(settings, "::1")
    with pytest.raises(SystemExit, match="refusing to listen"):
        refuse_open_network(settings, "0.0.0.0")
    refuse_open_network(load_settings(allow_unauthenticated_network=True), "0.0.0.0")


def test_dial_target_follows_the_listen_address() -> None:
    from pmpcli.serve import dial_target

    assert dial_target("127.0.0.1:0", 5000) == "127.0.0.1:5000"
    assert dial_target("0.0.0.0:0", 5000) == "127.0.0.1:5000"
    assert dial_target("[::1]:0", 5000) == "[::1]:5000"
    assert dial_target("unix:/run/pmpdb.sock", 1) == "unix:/run/pmpdb.sock"


def test_settings_and_serve_load_without_prometheus() -> None:
    """serve --workers N sets PROMETHEUS_MULTIPROC_DIR after reading the settings; prometheus_client picks its value
    store when first imported, so nothing on that path may import it first (else /metrics is empty)."""
    import subprocess
    import sys

    code = (
        "import sys; from gateway.settings import load_settings; load_settings(); import pmpcli.main, pmpcli.serve; "
        "print('prometheus_client' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PATH": ""})
    assert out.stdout.strip() == "False"


def test_pmpdb_listens_beyond_loopback_only_when_told_the_network_is_closed() -> None:
    from pmpcli.serve import refuse_open_pmpdb

    refuse_open_pmpdb(load_settings(), "127.0.0.1")
    with pytest.raises(SystemExit, match="does not authenticate"):
        refuse_open_pmpdb(load_settings(), "0.0.0.0")  # even with authenticate and audit on in the gateway
    refuse_open_pmpdb(load_settings(allow_unauthenticated_network=True), "0.0.0.0")
