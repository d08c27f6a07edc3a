"""In the one-folder bundle the editor starts its trainer through the bundle's own program."""

from __future__ import annotations

import sys

import pytest

from cw_desktop.workers.training_process import cli_prefix


def test_from_a_virtualenv_the_trainer_is_this_interpreter_with_the_package() -> None:
    assert cli_prefix() == [sys.executable, "-m", "cw_desktop"]


def test_in_the_bundle_the_trainer_is_the_program_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    # PyInstaller sets sys.frozen; sys.executable is then <bundle>/cw-desktop, which takes no `-m`.
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/cw-desktop/cw-desktop")
    assert cli_prefix() == ["/opt/cw-desktop/cw-desktop"]
