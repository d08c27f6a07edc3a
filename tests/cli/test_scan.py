"""`cw-desktop scan`: the table, the JSON report, token counts and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cw_desktop.cli import run_cli

FORMATS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "formats"

pytestmark = pytest.mark.skipif(not FORMATS.is_dir(), reason="shared corpus not available")


def scan(tmp_path: Path, *args: str) -> int:
    return run_cli(["--config", str(tmp_path / "config"), "--data", str(tmp_path / "data"),
                    "--cache", str(tmp_path / "cache"), "scan", *args])


def test_scan_table_lists_every_file_and_totals(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                tiny_model_dir: Path) -> None:
    assert scan(tmp_path, str(FORMATS), "--model", str(tiny_model_dir)) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    row = next(line for line in lines if "chapter-9.txt" in line)
    assert row.split()[:2] == ["skipped", "0"] and "binary" in row
    row = next(line for line in lines if "raven.docx" in line)
    assert row.split()[0] == "used" and int(row.split()[1].replace(",", "")) > 1000
    assert "Files:  14 (10 used, 4 skipped)" in out
    assert "Tokens: " in out and "Tokens: ~" not in out  # counted with the model's own tokenizer
    assert "Training time (estimate): ~" in out


def test_scan_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert scan(tmp_path, str(FORMATS), "--json", "--model", str(tmp_path / "no-such-model")) == 0
    report = json.loads(capsys.readouterr().out)
    files = {f["path"]: f for f in report["files"]}
    assert files["cover.jpg"]["status"] == "skipped" and files["cover.jpg"]["reason"] == "unsupported"
    assert files["nested/drafts/empty.txt"]["reason"] == "empty"
    assert files["sonnets.md"]["status"] == "used" and files["sonnets.md"]["words"] > 10_000
    totals = report["totals"]
    assert totals["files"] == 14 and totals["files_used"] == 10
    assert totals["words"] == sum(f["words"] for f in report["files"])
    # model unavailable: tokens are an estimate, and the report says why
    assert totals["tokens_exact"] is False and "not found" in totals["tokenizer"]
    assert totals["estimated_seconds"] > 0


def test_scan_missing_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert scan(tmp_path, str(tmp_path / "nowhere"), "--model", str(tmp_path)) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def test_scan_shows_control_characters_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "book"
    folder.mkdir()
    (folder / "Title\rSubtitle.txt").write_text("A line of prose about the sea. " * 40)
    assert scan(tmp_path, str(folder), "--model", str(tmp_path / "none")) == 0
    out = capsys.readouterr().out
    assert "Title\\rSubtitle.txt" in out and "\r" not in out
