#!/usr/bin/env bash
# Installs what the console's browser test (tests/browser.rs) needs:
# Debian's Chromium, a CJK font (so Chinese text renders in screenshots
# rather than as boxes), and playwright-core from npm (tests/browser,
# pinned by its package-lock.json). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "install-browser-tests: need root (or sudo) to install $*" >&2; exit 1; fi
}

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || missing+=(fonts-wqy-zenhei)
if [ "${#missing[@]}" -gt 0 ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ! command -v npm >/dev/null; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
fi
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
/usr/bin/chromium --version
