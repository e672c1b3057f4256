#include "base/guarded_memory.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "base/secret.h"

namespace mcx {
namespace {

std::atomic<uint64_t> g_lock_failures{0};
thread_local int t_scope_depth = 0;

size_t RoundToPages(size_t n) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

}  // namespace

void* AllocateGuarded(size_t n, bool* locked) {
  const size_t len = RoundToPages(n == 0 ? 1 : n);
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  // Exclusion from dumps comes first: it holds even when locking fails.
  (void)madvise(p, len, MADV_DONTDUMP);
#ifdef MADV_WIPEONFORK
  (void)madvise(p, len, MADV_WIPEONFORK);
#endif
  bool ok = mlock(p, len) == 0;
  if (!ok) g_lock_failures.fetch_add(1, std::memory_order_relaxed);
  if (locked != nullptr) *locked = ok;
  return p;
}

void FreeGuarded(void* p, size_t n) {
  if (p == nullptr) return;
  const size_t len = RoundToPages(n == 0 ? 1 : n);
  SecureWipe(p, len);
  (void)munlock(p, len);
  (void)munmap(p, len);
}

uint64_t GuardedLockFailures() { return g_lock_failures.load(std::memory_order_relaxed); }

GuardedSecretScope::GuardedSecretScope() : failures_at_start_(GuardedLockFailures()) { ++t_scope_depth; }
GuardedSecretScope::~GuardedSecretScope() { --t_scope_depth; }
bool GuardedSecretScope::Active() { return t_scope_depth > 0; }

Status GuardedSecretScope::status() const {
  if (GuardedLockFailures() == failures_at_start_) return Status::Ok();
  return Status::Unavailable(
      "could not lock secret memory in RAM (mlock failed): raise the locked-memory limit of the "
      "mcx-kms process (ulimit -l, or LimitMEMLOCK= in its systemd unit) to at least 1 MiB");
}

Status MakeProcessNonDumpable() {
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return Status::Internal(std::string("prctl(PR_SET_DUMPABLE, 0) failed: ") + std::strerror(errno));
  }
  struct rlimit no_core = {0, 0};
  if (setrlimit(RLIMIT_CORE, &no_core) != 0) {
    return Status::Internal(std::string("setrlimit(RLIMIT_CORE, 0) failed: ") + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace mcx
