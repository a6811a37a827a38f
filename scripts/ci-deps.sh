#!/usr/bin/env bash
# CI system dependencies: Debian's Chromium, which tests/browser.rs uses to render the HTML report
# headless, and Prometheus (server + promtool), which tests/metrics.rs and the exposition unit tests
# use. Idempotent: does nothing when both are already installed. Runs as root on a fresh
# Debian machine (or through sudo when not root), with no prompts and no stdin.
set -euo pipefail

NEED=""
if ! { command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; }; then
    NEED="chromium"
fi
if ! { [ -x /usr/bin/prometheus ] && command -v promtool >/dev/null 2>&1; }; then
    NEED="$NEED prometheus"
fi
if [ -z "$NEED" ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        echo "ci-deps: missing:$NEED and this is not root (no sudo): install Debian's packages:$NEED" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "ci-deps: installing$NEED (chromium: the HTML report's browser test; prometheus: the metrics tests)" >&2
$SUDO apt-get update -qq </dev/null
# shellcheck disable=SC2086 # NEED is a list of package names
$SUDO apt-get install -y -qq $NEED </dev/null >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "ci-deps: chromium still not found after install" >&2; exit 1; }
command -v promtool >/dev/null 2>&1 || { echo "ci-deps: promtool still not found after install" >&2; exit 1; }
