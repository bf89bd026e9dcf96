"""Library deprecation warnings are dropped at display time; the project's own and other kinds stay."""
import io
import sysconfig
import warnings
from pathlib import Path

import pytest

from components.shared.quiet_warnings import COMPONENTS_DIR, hide_library_deprecations

LIBRARY_FILE = str(Path(sysconfig.get_paths()["purelib"]) / "somelib" / "core.py")
OWN_FILE = str(Path(COMPONENTS_DIR) / "noise_filter" / "component.py")


@pytest.mark.parametrize("category,filename,shown", [
    (DeprecationWarning, LIBRARY_FILE, False),
    (PendingDeprecationWarning, LIBRARY_FILE, False),
    (DeprecationWarning, "<frozen importlib._bootstrap>", False),
    (DeprecationWarning, OWN_FILE, True),
    (UserWarning, LIBRARY_FILE, True),
    (FutureWarning, LIBRARY_FILE, True),
])
def test_only_library_deprecations_are_hidden(category: type, filename: str, shown: bool) -> None:
    with warnings.catch_warnings():
        # the terminal's own display, as Python has it before anything wraps it
        warnings.showwarning = lambda message, category, name, number, file=None, line=None: (
            file.write(str(message))
        )
        hide_library_deprecations()
        hide_library_deprecations()  # twice: one wrapper
        terminal = io.StringIO()
        warnings.showwarning("a message", category, filename, 7, file=terminal)
    assert ("a message" in terminal.getvalue()) is shown
