#!/usr/bin/env bash
# Installs what the build needs and builds mcx-kms into ./build (warnings are errors).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMCX_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
