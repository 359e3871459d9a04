"""Shared fixtures: a private virtual screen for tests marked ``display``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from display import SCREEN, xvfb  # tests/display.py
from needs import need


@pytest.fixture(scope="session")
def xvfb_display(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running Xvfb screen (``SCREEN`` in size) with ``DISPLAY``/``XAUTHORITY`` set to it."""
    if shutil.which("Xvfb") is None:
        need("Xvfb is not installed (Debian: apt-get install xvfb; make setup does it as root)")
    with xvfb(*SCREEN, tmp_path_factory.mktemp("xvfb")) as name:
        yield name
