"""Where the `debrismap` command is: the provider's setting, else $DEBRISMAP_EXECUTABLE, else PATH."""

from __future__ import annotations

from .runner import find_executable

EXECUTABLE_SETTING = "DEBRISMAP_EXECUTABLE"


def configured_executable() -> str:
    """The path typed into the provider's settings ("" when unset or Processing is absent)."""
    try:
        from processing.core.ProcessingConfig import ProcessingConfig
    except ImportError:
        return ""
    return ProcessingConfig.getSetting(EXECUTABLE_SETTING) or ""


def debrismap_executable() -> str:
    return find_executable(configured_executable())
