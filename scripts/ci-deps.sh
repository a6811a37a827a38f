#!/usr/bin/env bash
# CI system dependencies: Debian's Chromium, which tests/browser.rs uses to render the HTML report
# headless, and Prometheus (server + promtool), which tests/metrics.rs and the exposition unit tests
# use. Idempotent: does nothing when both are already installed. Runs as root on a fresh
# Debian machine (or through sudo when not root), with no prompts and no stdin.
set -euo pipefail

# PyPI's toxiproxy-python, a stock Toxiproxy client: tests/safety.rs drives `skyload proxy` with it
# (and fails under CI without it). Python and pip come from Debian when missing.
if ! python3 -c 'import toxiproxy, requests, future' >/dev/null 2>&1; then
    PSUDO=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then PSUDO="sudo -n"; fi
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive $PSUDO apt-get update -qq </dev/null
        DEBIAN_FRONTEND=noninteractive $PSUDO apt-get install -y -qq python3 python3-pip </dev/null >/dev/null
    fi
    echo "ci-deps: installing toxiproxy-python (the stock-client test of skyload proxy)" >&2
    python3 -m pip install -q toxiproxy-python==0.1.1 future requests </dev/null \
        || python3 -m pip install -q --break-system-packages toxiproxy-python==0.1.1 future requests </dev/null
    python3 -c 'import toxiproxy, requests, future' || { echo "ci-deps: toxiproxy-python still not importable" >&2; exit 1; }
fi

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
