#!/usr/bin/env bash
# install.sh - installs the pinned s3rver (package-lock.json) into tests/s3/node_modules when it is
# missing or holds another version. tests/blackbox/test_s3.py starts it on loopback as the
# S3-compatible server of its tests; scripts/run-tests calls this before the black-box tests.
# Exit 0 when s3rver is ready, 1 (with the reason) when node/npm are missing or npm ci failed.
set -u
cd "$(dirname "$0")"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "s3: node and npm are needed (scripts/install-deps installs them)" >&2
    exit 1
fi
want=$(node -p 'require("./package.json").dependencies.s3rver')
have=$(node -p 'try { require("./node_modules/s3rver/package.json").version } catch { "" }' 2>/dev/null)
if [ "$have" != "$want" ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    if ! npm ci --no-audit --no-fund >&2; then
        echo "s3: npm ci failed (is the npm registry reachable?)" >&2
        exit 1
    fi
fi
exit 0
