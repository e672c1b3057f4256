#include "base/pooled_random.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include <pthread.h>

#include <openssl/rand.h>

#include "base/guarded_memory.h"
#include "base/secret.h"

namespace mcx {
namespace {

std::atomic<uint64_t> g_next_id{1};

// Bumped in a child process after fork(). The pools are MADV_WIPEONFORK memory, so a child finds
// them zeroed; it must refill rather than hand out those zeros (and must never share the parent's
// octets, which the wipe already prevents).
std::atomic<uint64_t> g_fork_generation{0};

uint64_t ForkGeneration() {
  static const bool registered = [] {
    return pthread_atfork(nullptr, nullptr, [] { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }) == 0;
  }();
  (void)registered;
  return g_fork_generation.load(std::memory_order_relaxed);
}

// Unused octets drawn for the source `owner`: buf[pos, end).
struct PoolSlot {
  uint64_t owner = 0;
  uint64_t last_use = 0;
  uint8_t* buf = nullptr;
  size_t capacity = 0;
  size_t pos = 0, end = 0;

  bool Reset(uint64_t new_owner, size_t new_capacity) {
    if (capacity != new_capacity) {
      FreeGuarded(buf, capacity);
      buf = static_cast<uint8_t*>(AllocateGuarded(new_capacity, nullptr));
      capacity = buf != nullptr ? new_capacity : 0;
    } else if (buf != nullptr) {
      SecureWipe(buf, capacity);
    }
    owner = buf != nullptr ? new_owner : 0;
    pos = end = 0;
    return buf != nullptr;
  }
};

struct ThreadPools {
  static constexpr int kSlots = 4;
  PoolSlot slots[kSlots];
  uint64_t clock = 0;
  uint64_t generation = 0;  // ForkGeneration() when the pools were last valid

  // The slot of `owner`, or a fresh one taken from the least recently used; nullptr when out of
  // memory.
  PoolSlot* For(uint64_t owner, size_t capacity) {
    const uint64_t now = ForkGeneration();
    if (now != generation) {  // this is a forked child: every pool is empty
      for (PoolSlot& s : slots) s.pos = s.end = 0;
      generation = now;
    }
    PoolSlot* victim = &slots[0];
    for (PoolSlot& s : slots) {
      if (s.owner == owner && s.capacity == capacity) {
        s.last_use = ++clock;
        return &s;
      }
      if (s.last_use < victim->last_use) victim = &s;
    }
    if (!victim->Reset(owner, capacity)) return nullptr;
    victim->last_use = ++clock;
    return victim;
  }
  ~ThreadPools() {
    for (PoolSlot& s : slots) FreeGuarded(s.buf, s.capacity);
  }
};

thread_local ThreadPools t_pools;

}  // namespace

PooledRandom::PooledRandom(size_t pool_bytes)
    : pool_bytes_(std::max<size_t>(pool_bytes, 64)), id_(g_next_id.fetch_add(1)) {}

Status PooledRandom::Draw(std::span<uint8_t> out) {
  refills_.fetch_add(1, std::memory_order_relaxed);
  return Refill(out);
}

Status PooledRandom::Fill(std::span<uint8_t> out) {
  if (out.size() > pool_bytes_ / 2) return Draw(out);
  PoolSlot* pool = t_pools.For(id_, pool_bytes_);
  if (pool == nullptr) return Status::Unavailable("out of memory for the random pool");
  size_t done = 0;
  while (done < out.size()) {
    if (pool->pos == pool->end) {
      MCX_RETURN_IF_ERROR(Draw({pool->buf, pool->capacity}));
      pool->pos = 0;
      pool->end = pool->capacity;
    }
    const size_t n = std::min(out.size() - done, pool->end - pool->pos);
    std::memcpy(out.data() + done, pool->buf + pool->pos, n);
    SecureWipe(pool->buf + pool->pos, n);
    pool->pos += n;
    done += n;
  }
  return Status::Ok();
}

Status OpenSslRandom::Refill(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    const size_t chunk = std::min<size_t>(out.size() - done, INT_MAX);
    if (RAND_bytes(out.data() + done, static_cast<int>(chunk)) != 1) {
      return Status::Unavailable("the OpenSSL random generator failed (is the system entropy source usable?)");
    }
    done += chunk;
  }
  return Status::Ok();
}

}  // namespace mcx
