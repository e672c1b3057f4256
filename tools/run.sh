#!/usr/bin/env bash
# README command (1): install what is needed, build, and run the main job on the embedded
# defaults in the current working directory.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
(cd "$repo" && bash tools/build.sh)
exec "$repo/build/tools/mcx-kms" demo "$@"
