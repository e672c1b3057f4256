// Guarded memory: pages for secret material that are locked in RAM, left out of core dumps and
// wiped in a forked child, and a switch that makes SecretBytes use them.
//
// Contract:
//  - AllocateGuarded(n) returns zeroed, page-aligned memory of at least n bytes that is
//    mlock'd (never swapped), madvise(MADV_DONTDUMP) (absent from core dumps) and
//    madvise(MADV_WIPEONFORK) (zero in a child process). If the lock fails (RLIMIT_MEMLOCK too
//    low), the memory is still excluded from dumps, `*locked` is false and the failure is counted.
//  - FreeGuarded wipes, unlocks and unmaps.
//  - While a GuardedSecretScope lives on a thread, every SecretBytes allocated on that thread is
//    guarded; so the engine's own functions (GenerateMasterSecrets, ...) can produce guarded
//    secrets without knowing about it. Copies of a guarded SecretBytes are guarded too.
//  - MakeProcessNonDumpable() clears the dumpable flag (prctl PR_SET_DUMPABLE 0) and the core
//    size limit, so neither a crash nor ptrace by another user's process exposes the secrets.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/status.h"

namespace mcx {

void* AllocateGuarded(size_t n, bool* locked);
void FreeGuarded(void* p, size_t n);

// How many guarded allocations so far could not be locked in RAM (process-wide).
uint64_t GuardedLockFailures();

class GuardedSecretScope {
 public:
  GuardedSecretScope();
  ~GuardedSecretScope();
  GuardedSecretScope(const GuardedSecretScope&) = delete;
  GuardedSecretScope& operator=(const GuardedSecretScope&) = delete;

  // Whether SecretBytes allocated now on this thread go to guarded memory.
  static bool Active();
  // OK when every guarded allocation made in this scope was locked in RAM.
  Status status() const;

 private:
  uint64_t failures_at_start_;
};

Status MakeProcessNonDumpable();

}  // namespace mcx
