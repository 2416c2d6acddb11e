#!/bin/bash
# Runs the whole test suite (unit and end-to-end) against the build made by scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 4096 2>/dev/null || true
ctest --test-dir build --output-on-failure -j2 --timeout 600
