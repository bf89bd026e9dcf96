#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter, or explains what is missing.
# Rasa 3.6 runs on Python 3.8-3.10 only; we pin 3.10 (see .python-version).
set -u
for candidate in python3.10 python3 python "$(pyenv which python3.10 2>/dev/null)" /root/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do
  [ -n "$candidate" ] || continue
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if "$path" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; then
    "$path" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
echo "error: Python 3.10 not found. Rasa 3.6 needs Python 3.8-3.10; install 3.10 (e.g. 'pyenv install 3.10') and retry." >&2
exit 1
