"""`rapport.env` as a dict, for Python entry points that are not started by the Makefile."""
import os
from pathlib import Path
from typing import Dict, Text

ENV_FILE = Path(__file__).resolve().parents[1] / "rapport.env"


def rapport_env() -> Dict[Text, Text]:
    """The KEY=VALUE lines of rapport.env."""
    pairs = (
        line.split("=", 1)
        for line in ENV_FILE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    return {key.strip(): value.strip() for key, value in pairs}


def apply_rapport_env() -> None:
    """Set rapport.env's variables in this process, keeping any the caller already set."""
    for key, value in rapport_env().items():
        os.environ.setdefault(key, value)
