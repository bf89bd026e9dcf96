"""Keep the libraries' deprecation warnings off the user's terminal; the project's own stay.

Starting `rasa shell` or `rasa run` prints a dozen DeprecationWarnings from Rasa 3.6's
dependencies (SQLAlchemy 2.0, pkg_resources, Click 9, pyparsing, jax) before the assistant says
anything. PYTHONWARNINGS cannot silence them: importing sanic puts `once` for every
DeprecationWarning first in the filter list, and Rasa later adds its own filters in front. So
this wraps `warnings.showwarning`, which every filter hands a shown warning to: a
(Pending)DeprecationWarning raised in a library or the standard library is dropped; warnings
raised in Rapport's own code, and every other kind (Rasa's UserWarnings about your training
data, FutureWarnings) are shown as before.
"""
import sysconfig
import warnings
from pathlib import Path
from typing import Any, Optional, Text, TextIO

COMPONENTS_DIR = str(Path(__file__).resolve().parents[1])
_LIBRARY_DIRS = tuple(
    {str(Path(sysconfig.get_paths()[key]).resolve()) for key in ("stdlib", "purelib", "platlib")}
)
_DEPRECATIONS = (DeprecationWarning, PendingDeprecationWarning)


def is_library_deprecation(category: type, filename: Text) -> bool:
    """A deprecation warning whose origin is a library's file (a site-packages dir, the
    standard library, frozen modules), not Rapport's own code (even when pip-installed)."""
    if not issubclass(category, _DEPRECATIONS):
        return False
    if filename.startswith("<"):  # <frozen importlib._bootstrap>, <string>
        return True
    path = str(Path(filename).resolve())
    if path.startswith(COMPONENTS_DIR):
        return False
    return "site-packages" in path or "dist-packages" in path or path.startswith(_LIBRARY_DIRS)


def hide_library_deprecations() -> None:
    """Install the wrapper (once per process)."""
    shown = warnings.showwarning
    if getattr(shown, "hides_library_deprecations", False):
        return

    def showwarning(
        message: Any, category: type, filename: Text, lineno: int,
        file: Optional[TextIO] = None, line: Optional[Text] = None,
    ) -> None:
        if not is_library_deprecation(category, filename):
            shown(message, category, filename, lineno, file, line)

    showwarning.hides_library_deprecations = True  # type: ignore[attr-defined]
    warnings.showwarning = showwarning
