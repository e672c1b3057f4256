#!/bin/sh
# Compares mcx-kms's key-derivation rates with wolfSSL's on one core, in one run, alternating.
#
#   BUILD_DIR=build bench/compare-wolfssl.sh [SECONDS_PER_MEASUREMENT] [ROUNDS]
#
# wolfSSL is built from Debian's source package OUTSIDE the source tree
# (${BUILD_DIR}/wolfssl-compare), configured with its SAKKE, ECCSI and SP assembly code; it is
# never part of mcx-kms. Needs root for apt-get (deb-src is enabled if missing) and an mcx build
# with the rsk_rate target. Both sides run pinned to the same core (taskset -c 0), alternating
# ROUNDS times; the script prints each round and the median rates and ratios. wolfSSL's SSK+PVT
# pairs are one at a time (wc_MakeEccsiPair); mcx-kms's are given both one at a time and in bulk
# (KeySetDeriver::SigningKeyBatch, what DeriveBatch uses), and the 1.5x target is checked on both:
# one at a time is the like-for-like comparison, bulk is the mode the KMS provisions in.
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

echo "wolfSSL $(sed -n 's/^#define LIBWOLFSSL_VERSION_STRING "\(.*\)"/\1/p' "$WORK/install/include/wolfssl/version.h"), single thread, core 0, ${SECONDS_EACH}s per measurement"
RESULTS="$WORK/results.txt"
: > "$RESULTS"
i=1
while [ "$i" -le "$ROUNDS" ]; do
  taskset -c 0 "$WORK/wolfssl_rate" "$SECONDS_EACH" | tee -a "$RESULTS"
  taskset -c 0 "$BUILD_DIR/bench/rsk_rate" "$SECONDS_EACH" | tee -a "$RESULTS"
  i=$((i + 1))
done

awk '
  function field(name,   i, kv) {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == name) return kv[2] + 0 }
    return -1
  }
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  $1 == "wolfssl" { nw++; wr[nw] = field("rsk_per_s"); wp[nw] = field("ssk_pvt_per_s") }
  $1 == "mcx" { nm++; mr[nm] = field("rsk_per_s"); mp[nm] = field("ssk_pvt_per_s"); mb[nm] = field("ssk_pvt_batch_per_s"); mk[nm] = field("keyset_per_s") }
  END {
    r_w = median(wr, nw); p_w = median(wp, nw); r_m = median(mr, nm); p_m = median(mp, nm); b_m = median(mb, nm); k_m = median(mk, nm)
    printf "\nmedian of %d rounds          wolfSSL        mcx-kms     ratio   target\n", nw
    printf "RSK per second           %10.1f     %10.1f   %6.2fx   >= 4x      %s\n", r_w, r_m, r_m / r_w, (r_m >= 4 * r_w) ? "met" : "NOT met"
    printf "SSK+PVT per second, both one at a time (wolfSSL wc_MakeEccsiPair, mcx SigningKey)\n"
    printf "                         %10.1f     %10.1f   %6.2fx   >= 1.5x    %s\n", p_w, p_m, p_m / p_w, (p_m >= 1.5 * p_w) ? "met" : "NOT met"
    printf "SSK+PVT per second, wolfSSL one at a time, mcx in bulk (SigningKeyBatch, 256 per call, as DeriveBatch)\n"
    printf "                         %10.1f     %10.1f   %6.2fx   >= 1.5x    %s\n", p_w, b_m, b_m / p_w, (b_m >= 1.5 * p_w) ? "met" : "NOT met"
    printf "key set per second                      %10.1f             >= 4000    %s\n", k_m, (k_m >= 4000) ? "met" : "NOT met"
  }' "$RESULTS"
