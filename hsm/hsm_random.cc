#include "hsm/hsm_random.h"

#include <algorithm>
#include <cstring>

#include "engine/base/guarded_memory.h"
#include "engine/base/secret.h"

namespace mcx::hsm {
namespace {

std::atomic<uint64_t> g_next_id{1};

// One per thread: unused octets drawn for the HsmRandom `owner`. They are future secrets (an
// ECCSI v reveals the KSAK), hence guarded memory.
struct ThreadPool {
  uint64_t owner = 0;
  uint8_t* buf = nullptr;
  size_t capacity = 0;
  size_t pos = 0, end = 0;  // unused octets are buf[pos, end)

  void Reset(uint64_t new_owner, size_t new_capacity) {
    if (capacity != new_capacity) {
      FreeGuarded(buf, capacity);
      buf = static_cast<uint8_t*>(AllocateGuarded(new_capacity, nullptr));
      capacity = buf != nullptr ? new_capacity : 0;
    } else if (buf != nullptr) {
      SecureWipe(buf, capacity);
    }
    owner = new_owner;
    pos = end = 0;
  }
  ~ThreadPool() { FreeGuarded(buf, capacity); }
};

thread_local ThreadPool t_pool;

}  // namespace

HsmRandom::HsmRandom(Pkcs11Token& token, size_t pool_bytes)
    : token_(token), pool_bytes_(std::max<size_t>(pool_bytes, 64)), id_(g_next_id.fetch_add(1)) {}

Status HsmRandom::Draw(std::span<uint8_t> out) {
  Result<Pkcs11Token::Lease> session = token_.Acquire();
  if (!session.ok()) return session.status();
  token_calls_.fetch_add(1, std::memory_order_relaxed);
  Status st = (*session)->GenerateRandom(out);
  if (!st.ok()) session->Discard();
  return st;
}

Status HsmRandom::Fill(std::span<uint8_t> out) {
  if (out.size() > pool_bytes_ / 2) return Draw(out);
  ThreadPool& pool = t_pool;
  if (pool.owner != id_ || pool.capacity != pool_bytes_) {
    pool.Reset(id_, pool_bytes_);
    if (pool.buf == nullptr) return Status::Unavailable("out of memory for the random pool");
  }
  size_t done = 0;
  while (done < out.size()) {
    if (pool.pos == pool.end) {
      MCX_RETURN_IF_ERROR(Draw({pool.buf, pool.capacity}));
      pool.pos = 0;
      pool.end = pool.capacity;
    }
    size_t n = std::min(out.size() - done, pool.end - pool.pos);
    std::memcpy(out.data() + done, pool.buf + pool.pos, n);
    SecureWipe(pool.buf + pool.pos, n);
    pool.pos += n;
    done += n;
  }
  return Status::Ok();
}

}  // namespace mcx::hsm
