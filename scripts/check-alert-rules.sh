#!/usr/bin/env bash
# Checks the Prometheus alert rules with promtool: the syntax and templates of
# deploy/prometheus/wordgate-rules.yml (`promtool check rules`) and its unit
# tests, deploy/prometheus/wordgate-rules.test.yml (`promtool test rules`).
# Installs promtool from Debian's `prometheus` package when it is missing.
# That the rules query only metrics wordgate exports, and that the
# PrometheusRule carries the same groups, is tests/operators.rs's job.
#
# Usage: scripts/check-alert-rules.sh   (from anywhere in the checkout)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rules="deploy/prometheus/wordgate-rules.yml"
tests="deploy/prometheus/wordgate-rules.test.yml"

if ! command -v promtool >/dev/null 2>&1; then
    echo "promtool not found; installing Debian's prometheus package" >&2
    if [ "$(id -u)" -eq 0 ]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        echo "error: promtool is missing and installing it needs root (no sudo here)" >&2
        exit 1
    fi
    ${as_root[@]+"${as_root[@]}"} apt-get update
    ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends prometheus
    command -v promtool >/dev/null 2>&1 || {
        echo "error: the prometheus package did not provide promtool" >&2
        exit 1
    }
fi

promtool --version 2>&1 | head -n 1
cd "$root"
promtool check rules "$rules"
# Rule files in a test file are relative to the test file.
(cd "$(dirname "$tests")" && promtool test rules "$(basename "$tests")")
