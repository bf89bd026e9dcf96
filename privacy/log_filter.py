"""Mask personal data in every log record this process writes.

Installed as the logging module's record factory, so it reaches every logger and handler,
including the ones Sanic or Rasa add after start-up, and costs nothing for records below the
logger's level (those are never created). Rasa logs message texts and slot values at DEBUG
(`rasa run --debug`); with this, even those show placeholders.
"""
import logging
from typing import Any, Callable, Optional

from privacy.masking import MaskingConfig, mask_text

_installed: Optional["_MaskingRecordFactory"] = None


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
        masked = mask_text(message, self.config)
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
