#!/usr/bin/env bash
# run.sh - the web console tests: installs the pinned `puppeteer-core` from package-lock.json when
# node_modules is missing or holds another version (puppeteer-core downloads no browser: the test
# drives Debian's /usr/bin/chromium), then runs `node --test` against the vidgated of $VG_BUILD
# (default: build; relative to the caller's directory, else to the repository root). Screenshots
# go to $VG_CONSOLE_SHOTS (default: <build>/console-shots).
# Ends with the line "console: N passed, N failed" and exits non-zero when anything failed.
set -u
# A VG_BUILD given relative to the caller's directory still means that directory after the cd.
if [ -n "${VG_BUILD:-}" ] && [ -d "$VG_BUILD" ]; then
    VG_BUILD=$(cd "$VG_BUILD" && pwd)
    export VG_BUILD
fi
cd "$(dirname "$0")"

if [ ! -x "${VG_CHROMIUM:-/usr/bin/chromium}" ]; then
    echo "no chromium at ${VG_CHROMIUM:-/usr/bin/chromium} (scripts/install-deps installs it)" >&2
    echo "console: 0 passed, 1 failed"
    exit 1
fi
want=$(node -p 'require("./package.json").dependencies["puppeteer-core"]')
have=$(node -p 'try { require("./node_modules/puppeteer-core/package.json").version } catch { "" }' 2>/dev/null)
if [ "$have" != "$want" ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    if ! PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund; then
        echo "npm ci failed (is the npm registry reachable?)" >&2
        echo "console: 0 passed, 1 failed"
        exit 1
    fi
fi
# --install: the packages only (scripts/run-tests installs before the builds' suites run side by
# side, so that two runs never install at once).
[ "${1:-}" = --install ] && exit 0

tap=$(mktemp)
trap 'rm -f "$tap"' EXIT
node --test --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap"
rc=$?
pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" | tail -1)
fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tap" | tail -1)
pass=${pass:-0}
fail=${fail:-0}
# A crash before the summary counts as a failure too.
if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
echo "console: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
