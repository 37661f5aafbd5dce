"""Documentation that must stay complete: every setting is described in docs/settings.md."""

from __future__ import annotations

from pathlib import Path

from capturehub.server.settings import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_setting_is_documented_with_help() -> None:
    text = (DOCS / "settings.md").read_text()
    for name, field in Settings.model_fields.items():
        assert f"`CAPTUREHUB_{name.upper()}`" in text, name
        assert field.description, f"setting {name} has no help text"
