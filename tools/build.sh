#!/usr/bin/env bash
# Installs what the build needs and builds mcx-kms into ./build (warnings are errors).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
# Ninja, not Make: Make's CMake makefiles finish one target before they start on the next one's
# files, which left one of two cores idle for minutes behind the long files (the load generator,
# the command line). A build directory made by another generator is made again.
source tools/cmake-dir.sh
fresh_cmake_dir build
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMCX_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
