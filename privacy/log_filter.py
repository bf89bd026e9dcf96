"""Mask personal data in every log record this process writes.

Installed as the logging module's record factory, so it reaches every logger and handler,
including the ones Sanic or Rasa add after start-up, and costs nothing for records below the
logger's level (those are never created). Rasa logs message texts and slot values at DEBUG
(`rasa run --debug`); with this, even those show placeholders. Rasa also prints some user texts
as Python warnings (a message starting with "/" that is no valid intent), outside logging:
those are masked too. Control characters from user text (ANSI escape sequences that would
recolour or rewrite the operator's terminal) are written as escapes in both.
"""
import logging
import re
import warnings
from typing import Any, Callable, Optional

from privacy.masking import MaskingConfig, mask_text

_installed: Optional["_MaskingRecordFactory"] = None
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def safe_text(text: str, config: MaskingConfig) -> str:
    """`text` masked, with control characters (except newline and tab) escaped."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", mask_text(text, config))


class _MaskingRecordFactory:
    def __init__(self, wrapped: Callable[..., logging.LogRecord], config: MaskingConfig) -> None:
        self.wrapped = wrapped
        self.config = config

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.wrapped(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report, not ours
            return record
        masked = safe_text(message, self.config)
        if masked != message:
            record.msg, record.args = masked, None
        return record


def install_log_masking(config: MaskingConfig) -> None:
    """Mask log records from now on (once per process; a later call updates the settings)."""
    global _installed
    if _installed is not None:
        _installed.config = config
        return
    _installed = _MaskingRecordFactory(logging.getLogRecordFactory(), config)
    logging.setLogRecordFactory(_installed)
    show = warnings.showwarning

    def show_masked(message: Any, category: Any, filename: str, lineno: int,
                    file: Any = None, line: Optional[str] = None) -> None:
        assert _installed is not None
        text = str(message)
        masked = safe_text(text, _installed.config)
        show(masked if masked != text else message, category, filename, lineno, file, line)

    warnings.showwarning = show_masked
