#!/usr/bin/env bash
# Install Debian's Chromium for the browser end-to-end test (tests/integration/test_webchat_browser.py).
# Playwright drives this system browser (executable_path=/usr/bin/chromium); its own browser
# downloads cannot work here, so `playwright install` is never run. Idempotent: does nothing
# when /usr/bin/chromium is already there.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  echo "chromium already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "chromium installed: $("$CHROMIUM" --version)"
