#!/usr/bin/env bash
# Makes sure headless Chromium and its WebDriver are installed for the browser tests: installs
# Debian's chromium and chromium-driver with apt-get when either binary is missing (as root).
# Debian's packages, not a downloaded browser build: CI reaches only the package registries.
# Prints one line saying what it did.
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    echo "chromium and chromedriver already installed"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "chromium or chromedriver is missing; install them (e.g. apt-get install chromium chromium-driver)" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
echo "installed chromium and chromedriver ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
