"""``pmp-gateway`` run in-process for the CLI tests: ``PMP_*`` settings cleared but the data directory (and what a
test adds), each call's exit status, its stdout (parsed when it is JSON) and its stderr."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pmpcli.main import main

Cli = Callable[..., tuple[int, Any, str]]


def in_process_cli(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], **settings: str
) -> Cli:
    """A runner of ``pmp-gateway ARGS`` on ``data_dir``, with ``settings`` (``PMP_…`` names) in the environment."""
    for name in [n for n in os.environ if n.startswith("PMP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PMP_DATA_DIR", str(data_dir))
    for name, value in settings.items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> tuple[int, Any, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        try:
            parsed: Any = json.loads(out)
        except ValueError:
            parsed = out
        return code, parsed, err

    return run
