#!/bin/sh
# Compares mcx-kms's key-derivation rates with wolfSSL's on one core, in one run, alternating.
#
#   BUILD_DIR=build bench/compare-wolfssl.sh [SECONDS_PER_MEASUREMENT] [ROUNDS]
#   MCX_MATH_PATH=avx2 bench/compare-wolfssl.sh ...            # force one arithmetic path
#   MCX_MATH_PATHS="ifma avx2 portable" bench/compare-wolfssl.sh  # several, side by side
#
# It prints the CPU model, the instruction-set features it saw and the arithmetic path each mcx
# measurement ran (rsk_rate reports it; a forced path the CPU lacks stops rsk_rate with an error).
# Rates are per second of the measuring thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so that other
# load on a shared core does not count against whichever side it happened to hit;
# COMPARE_CLOCK=wall compares wall-clock rates instead (both are in the per-round lines).
# wolfSSL is built from Debian's source package OUTSIDE the source tree
# (${BUILD_DIR}/wolfssl-compare), configured with its SAKKE, ECCSI and SP assembly code; it is
# never part of mcx-kms. Needs root for apt-get (deb-src is enabled if missing) and an mcx build
# with the rsk_rate target. Both sides run pinned to the same core (taskset -c 0), alternating
# ROUNDS times; the script prints each round and the median rates and ratios. wolfSSL's SSK+PVT
# pairs are one at a time (wc_MakeEccsiPair); mcx-kms's are given both one at a time and in bulk
# (KeySetDeriver::SigningKeyBatch, what DeriveBatch uses), and the 1.5x target is checked on both:
# one at a time is the like-for-like comparison, bulk is the mode the KMS provisions in. RSKs
# are compared in bulk (ReceiverSecretKeys) and one at a time (ReceiverSecretKey); wolfSSL's
# wc_MakeSakkeRsk is one at a time.
set -eu

SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$(cd "${BUILD_DIR:-$SRC_DIR/build}" && pwd)
SECONDS_EACH=${1:-3}
ROUNDS=${2:-3}
WORK="$BUILD_DIR/wolfssl-compare"
mkdir -p "$WORK"

if [ ! -x "$BUILD_DIR/bench/rsk_rate" ]; then
  cmake --build "$BUILD_DIR" -j2 --target rsk_rate
fi

if [ ! -f "$WORK/install/lib/libwolfssl.a" ]; then
  if ! apt-get source --print-uris wolfssl >/dev/null 2>&1; then
    echo "enabling deb-src for apt-get source"
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
      > /etc/apt/sources.list.d/mcx-deb-src.sources
    apt-get update -qq
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq autoconf automake libtool dpkg-dev >/dev/null
  (cd "$WORK" && rm -rf src && mkdir src && cd src && apt-get source -qq --download-only wolfssl \
     && dpkg-source -x --skip-patches ./*.dsc wolfssl >/dev/null)
  (cd "$WORK/src/wolfssl" \
     && ./autogen.sh >/dev/null 2>&1 \
     && ./configure -q --prefix="$WORK/install" --enable-sakke --enable-eccsi --enable-sp --enable-sp-asm \
          --enable-static --disable-shared --disable-examples --disable-crypttests \
     && make -s -j2 >/dev/null && make -s install >/dev/null)
fi

cc -O2 -o "$WORK/wolfssl_rate" "$SRC_DIR/bench/wolfssl_rate.c" -I"$WORK/install/include" \
   "$WORK/install/lib/libwolfssl.a" -lm -lpthread

MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
FAMILY=$(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
MODEL_NO=$(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
SEEN=""
for f in avx2 bmi2 adx avx512f avx512ifma; do
  if grep -qw "$f" /proc/cpuinfo; then SEEN="$SEEN $f"; fi
done
echo "CPU: $MODEL (family $FAMILY, model $MODEL_NO), $(nproc) CPUs; features seen:${SEEN:- none of avx2 bmi2 adx avx512f avx512ifma}"
PATHS=${MCX_MATH_PATHS:-${MCX_MATH_PATH:-}}
echo "mcx arithmetic path(s): ${PATHS:-the fastest this CPU has (MCX_MATH_PATH unset)}"
CLOCK=${COMPARE_CLOCK:-cpu}
case "$CLOCK" in
  cpu) SUFFIX=_per_cpu_s; echo "rates per second of thread CPU time (COMPARE_CLOCK=wall for wall time)" ;;
  wall) SUFFIX=_per_s; echo "rates per second of wall time" ;;
  *) echo "COMPARE_CLOCK must be cpu or wall" >&2; exit 2 ;;
esac
echo "wolfSSL $(sed -n 's/^#define LIBWOLFSSL_VERSION_STRING "\(.*\)"/\1/p' "$WORK/install/include/wolfssl/version.h"), single thread, core 0, ${SECONDS_EACH}s per measurement"
RESULTS="$WORK/results.txt"
: > "$RESULTS"
i=1
while [ "$i" -le "$ROUNDS" ]; do
  taskset -c 0 "$WORK/wolfssl_rate" "$SECONDS_EACH" | tee -a "$RESULTS"
  if [ -z "$PATHS" ]; then
    (unset MCX_MATH_PATH; taskset -c 0 "$BUILD_DIR/bench/rsk_rate" "$SECONDS_EACH") | tee -a "$RESULTS"
  else
    for path in $PATHS; do
      MCX_MATH_PATH=$path taskset -c 0 "$BUILD_DIR/bench/rsk_rate" "$SECONDS_EACH" | tee -a "$RESULTS"
    done
  fi
  i=$((i + 1))
done

awk -v suffix="$SUFFIX" '
  function field(name,   i, kv) {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == name) return kv[2] + 0 }
    return -1
  }
  function text(name,   i, kv) {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == name) return kv[2] }
    return "?"
  }
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  function row(label, w, m, target, factor) {
    printf "%-34s %10.1f %10.1f %7.2fx  >= %-5s %s\n", label, w, m, m / w, target, (m >= factor * w) ? "met" : "NOT met"
  }
  $1 == "wolfssl" { nw++; wr[nw] = field("rsk" suffix); wp[nw] = field("ssk_pvt" suffix) }
  $1 == "mcx" {
    p = text("math_path")
    if (!(p in count)) { order[++np] = p }
    n = ++count[p]
    mr[p, n] = field("rsk" suffix); ms[p, n] = field("rsk_single" suffix); mp[p, n] = field("ssk_pvt" suffix)
    mb[p, n] = field("ssk_pvt_batch" suffix); mk[p, n] = field("keyset" suffix)
  }
  END {
    r_w = median(wr, nw); p_w = median(wp, nw)
    for (k = 1; k <= np; k++) {
      p = order[k]; n = count[p]
      for (i = 1; i <= n; i++) { a[i] = mr[p, i] } r_m = median(a, n)
      for (i = 1; i <= n; i++) { a[i] = ms[p, i] } s_m = median(a, n)
      for (i = 1; i <= n; i++) { a[i] = mp[p, i] } p_m = median(a, n)
      for (i = 1; i <= n; i++) { a[i] = mb[p, i] } b_m = median(a, n)
      for (i = 1; i <= n; i++) { a[i] = mk[p, i] } k_m = median(a, n)
      printf "\nmcx path %s, median of %d rounds   wolfSSL    mcx-kms    ratio   target\n", p, n
      row("RSK/s, mcx in bulk (256 per call)", r_w, r_m, "4x", 4)
      row("RSK/s, both one at a time", r_w, s_m, "2x", 2)
      row("SSK+PVT/s, both one at a time", p_w, p_m, "1.5x", 1.5)
      row("SSK+PVT/s, mcx in bulk (256)", p_w, b_m, "3x", 3)
      printf "%-34s %10s %10.1f %8s  >= %-5s %s\n", "key sets/s (DeriveBatch of 256)", "", k_m, "", "4000", (k_m >= 4000) ? "met" : "NOT met"
    }
  }' "$RESULTS"
