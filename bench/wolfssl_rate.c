/* wolfssl_rate: wolfSSL's SAKKE RSK and ECCSI SSK+PVT rates, one thread, for
 * bench/compare-wolfssl.sh. Built by that script against an out-of-tree wolfSSL build; nothing
 * of wolfSSL is part of mcx-kms.
 *
 *   wolfssl_rate SECONDS   prints "wolfssl rsk_per_s=... ssk_pvt_per_s=... rsk_per_cpu_s=...
 *                          ssk_pvt_per_cpu_s=..." (per second of wall time, of thread CPU time)
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/eccsi.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sakke.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double Now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of this thread: on a shared core, other processes' time does not count. */
static double CpuNow(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void Check(int ret, const char* what) {
  if (ret != 0) {
    fprintf(stderr, "wolfssl_rate: %s failed: %d\n", what, ret);
    exit(1);
  }
}

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? atof(argv[1]) : 2.0;
  static const byte id[] = "2011-02\0tel:+447700900123";  /* RFC 6508's identifier */
  WC_RNG rng;
  Check(wc_InitRng(&rng), "wc_InitRng");

  SakkeKey sakke;
  Check(wc_InitSakkeKey(&sakke, NULL, INVALID_DEVID), "wc_InitSakkeKey");
  Check(wc_MakeSakkeKey(&sakke, &rng), "wc_MakeSakkeKey");
  ecc_point* rsk = wc_ecc_new_point();
  Check(rsk == NULL, "wc_ecc_new_point");
  Check(wc_MakeSakkeRsk(&sakke, id, sizeof id, rsk), "wc_MakeSakkeRsk (warm-up)");
  long n_rsk = 0;
  double start = Now(), cpu_start = CpuNow(), elapsed;
  do {
    Check(wc_MakeSakkeRsk(&sakke, id, sizeof id, rsk), "wc_MakeSakkeRsk");
    ++n_rsk;
    elapsed = Now() - start;
  } while (elapsed < seconds);
  const double rsk_rate = (double)n_rsk / elapsed;
  const double rsk_cpu_rate = (double)n_rsk / (CpuNow() - cpu_start);

  EccsiKey eccsi;
  Check(wc_InitEccsiKey(&eccsi, NULL, INVALID_DEVID), "wc_InitEccsiKey");
  Check(wc_MakeEccsiKey(&eccsi, &rng), "wc_MakeEccsiKey");
  mp_int ssk;
  Check(mp_init(&ssk), "mp_init");
  ecc_point* pvt = wc_ecc_new_point();
  Check(pvt == NULL, "wc_ecc_new_point");
  long n_pair = 0;
  start = Now();
  cpu_start = CpuNow();
  do {
    Check(wc_MakeEccsiPair(&eccsi, &rng, WC_HASH_TYPE_SHA256, id, sizeof id, &ssk, pvt), "wc_MakeEccsiPair");
    ++n_pair;
    elapsed = Now() - start;
  } while (elapsed < seconds);
  const double pair_rate = (double)n_pair / elapsed;
  const double pair_cpu_rate = (double)n_pair / (CpuNow() - cpu_start);

  printf("wolfssl rsk_per_s=%.1f ssk_pvt_per_s=%.1f rsk_per_cpu_s=%.1f ssk_pvt_per_cpu_s=%.1f\n", rsk_rate, pair_rate,
         rsk_cpu_rate, pair_cpu_rate);
  mp_clear(&ssk);
  wc_ecc_del_point(pvt);
  wc_ecc_del_point(rsk);
  wc_FreeEccsiKey(&eccsi);
  wc_FreeSakkeKey(&sakke);
  wc_FreeRng(&rng);
  return 0;
}
