#!/usr/bin/env bash
# README command (2): install what is needed, build, and run every test through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 600
