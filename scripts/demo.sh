#!/usr/bin/env bash
# The main job: installs the system packages the build needs, then runs `secmail demo`,
# the whole story end to end (loopback only, throw-away keys, no configuration).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
exec cargo run --release --locked -p secmail-cli -- demo
