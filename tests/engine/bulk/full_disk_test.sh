#!/usr/bin/env bash
# A provision run that fills the disk stops with a clear error and loses nothing: every key set
# committed before the disk filled opens and validates, and once there is room again the same
# command completes the run exactly. The KMS's data directory lives on a small tmpfs made for the
# test (needs root, as CI runs; without the right to mount, the test reports itself skipped).
set -uo pipefail
bin="$(realpath "$1")"
work="$(mktemp -d)"
mnt="$work/disk"
mkdir -p "$mnt"
cleanup() { umount "$mnt" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
if ! mount -t tmpfs -o size=4m tmpfs "$mnt" 2>"$work/mount.log"; then
  echo "SKIPPED: cannot mount a tmpfs here ($(cat "$work/mount.log")); run as root"; exit 77
fi
fail() { echo "FAIL: $*"; exit 1; }
data="$mnt/kms"
"$bin" init --demo --data-dir "$data" >/dev/null || fail "init on the small disk"
users=30000  # ~600 octets a key set: far more than 4 MiB
for i in $(seq 1 "$users"); do echo "sip:responder$i@example.org"; done > "$work/users.txt"

"$bin" provision --data-dir "$data" --users "$work/users.txt" --periods 1 > "$work/first.log" 2>&1
rc=$?
cat "$work/first.log" | tail -3
[ "$rc" -ne 0 ] || fail "provision succeeded on a disk too small for it"
grep -q "the disk is full: free space, then run again" "$work/first.log" || fail "no clear full-disk error"
committed=$(sqlite3 "$data/store.sqlite" "SELECT count(*) FROM key_sets")
echo "disk full after $committed of $users key sets"
[ "$committed" -gt 0 ] && [ "$committed" -lt "$users" ] || fail "expected a partial run, got $committed"

# Room again: the committed key sets are intact and the rerun completes exactly.
mount -o remount,size=256m "$mnt" || fail "remount"
"$bin" check-store --data-dir "$data" --pairings 50 > "$work/check1.log" 2>&1 || { cat "$work/check1.log"; fail "check-store after the full disk"; }
grep -q "$committed of $committed key sets open and validate" "$work/check1.log" || { cat "$work/check1.log"; fail "committed rows damaged"; }
"$bin" provision --data-dir "$data" --users "$work/users.txt" --periods 1 > "$work/second.log" 2>&1 || { cat "$work/second.log"; fail "rerun"; }
grep -q "already present $committed," "$work/second.log" || { cat "$work/second.log"; fail "rerun did not find the committed key sets"; }
total=$(sqlite3 "$data/store.sqlite" "SELECT count(*) FROM key_sets")
[ "$total" -eq "$users" ] || fail "$total key sets after the rerun, expected $users"
echo "ok: a full disk lost nothing and the rerun completed the run"
