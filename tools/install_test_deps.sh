#!/usr/bin/env bash
# What the test suite needs outside the venv: Chromium and its driver (the web page's browser test,
# tests/test_serve_browser.py). Installed through the system's package manager when missing, so
# `make test` on a fresh machine does all the set-up; says clearly what to do when it cannot.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "make test: the browser test needs Chromium and chromedriver, and this system has no apt-get:" \
         "install them with your package manager (e.g. brew install --cask chromium chromedriver) and run make test again" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
else
    echo "make test: the browser test needs Chromium and chromedriver; install them as root and run make test again:" \
         "sudo apt-get install -y chromium chromium-driver" >&2
    exit 1
fi
echo "make test: installing Chromium and chromedriver (apt-get) for the browser test" >&2
$sudo apt-get update -q >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium chromium-driver >&2 || {
    echo "make test: apt-get could not install chromium chromium-driver; install them by hand and run make test again" >&2
    exit 1
}
