#!/usr/bin/env bash
# CI system dependencies: Debian's Chromium, which tests/browser.rs uses to render the HTML report
# headless. Idempotent: does nothing when Chromium is already installed. Runs as root on a fresh
# Debian machine (or through sudo when not root), with no prompts and no stdin.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        echo "ci-deps: chromium is missing and this is not root (no sudo): install Debian's chromium package" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "ci-deps: installing chromium (for the HTML report's browser test)" >&2
$SUDO apt-get update -qq </dev/null
$SUDO apt-get install -y -qq chromium </dev/null >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "ci-deps: chromium still not found after install" >&2; exit 1; }
