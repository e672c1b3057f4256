#!/usr/bin/env bash
# README command (1), the main job on the embedded defaults, in the current working directory:
# install what is needed and build; create a KMS on a SoftHSM2 token under ./mcx-kms-data if there
# is none yet; pre-provision a sample population of 1,000 users for the current and the next key
# period; check every stored key set as a device would; then serve the KMS interface on
# 127.0.0.1:8080 (Ctrl-C stops it).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
(cd "$repo" && bash tools/build.sh)
kms="$repo/build/tools/mcx-kms"
data="${MCX_KMS_DATA_DIR:-mcx-kms-data}"

if [ ! -f "$data/mcx-kms.toml" ]; then
  "$kms" init --demo --data-dir "$data"
fi
users="$data/sample-users.txt"
if [ ! -f "$users" ]; then
  { echo "# sample population for the demo KMS"
    for i in $(seq 1 1000); do printf 'sip:user%05d@example.org\n' "$i"; done; } > "$users"
fi
"$kms" provision --data-dir "$data" --users "$users" --from now --periods 2
"$kms" check-store --data-dir "$data" --all-pairings
exec "$kms" serve --data-dir "$data" --listen "${MCX_KMS_LISTEN:-127.0.0.1:8080}" "$@"
