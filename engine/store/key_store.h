// KeyStore: where a KMS keeps its state and the key sets it has issued.
//
// Key sets are keyed by (user URI, KeyPeriodNo) within one KMS certificate (a KeyStore object
// serves one; ForCertificate() gives the same store for another) and are written once:
// a key set that exists is never replaced, so an SSK/PVT pair once handed out stays the one the
// KMS serves. Records arrive and leave sealed (see KeySetCipher); the store never sees an RSK or
// SSK in the clear. Small named blobs hold the KMS state (community parameters, certificate,
// sealed master secrets, the sealed data key).
//
// The interface is narrow so that another database (PostgreSQL for replicas sharing one store)
// can implement it without touching the engine. Implementations are safe to use from many
// threads at once; writes are durable when a call returns OK.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "engine/store/key_set_cipher.h"
#include "engine/store/lifecycle_store.h"

namespace mcx {

// issued: in the store; delivered: handed to a client in a keyprov answer (at least once);
// revoked: withdrawn by the operator.
enum class KeySetState : int { kIssued = 0, kDelivered = 1, kRevoked = 2 };

// A record's marks (SealedKeySet::revoked, ::delivered) from the state column it was read with.
inline void SetMarksFromState(SealedKeySet& record, int64_t state) {
  record.revoked = state == static_cast<int64_t>(KeySetState::kRevoked);
  record.delivered = state == static_cast<int64_t>(KeySetState::kDelivered);
}

// A key set's key within one KMS certificate.
struct KeySetRef {
  std::string user_uri;
  uint64_t key_period_no = 0;
  bool operator==(const KeySetRef&) const = default;
};

struct KeySetCounts {
  uint64_t issued = 0, delivered = 0, revoked = 0;
  uint64_t total() const { return issued + delivered + revoked; }
};

class KeyStore {
 public:
  virtual ~KeyStore() = default;

  // Inserts every record whose (user URI, KeyPeriodNo) is not yet present, in one transaction,
  // and returns how many were new. Either all of the batch is committed or none of it.
  virtual Result<size_t> InsertBatch(std::span<const SealedKeySet> records) = 0;

  // Inserts `record` unless one exists, then returns the stored one (which wins a race): an
  // InsertBatch of one, and a Find when another writer's row was there first.
  Result<SealedKeySet> InsertOrGet(const SealedKeySet& record) {
    Result<size_t> n = InsertBatch(std::span<const SealedKeySet>(&record, 1));
    if (!n.ok()) return n.status();
    if (*n == 1) return record;
    Result<std::optional<SealedKeySet>> found = Find(record.user_uri, record.period.number);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return Status::Internal("a key set vanished between insert and read");
    return std::move(**found);
  }

  // The key set, with its `revoked` mark.
  virtual Result<std::optional<SealedKeySet>> Find(const std::string& user_uri, uint64_t key_period_no) = 0;
  // Find for each of `keys`, in one query where the store can: found[i] for keys[i] (nullopt
  // when there is none; a key asked twice is answered twice). Fails as a whole.
  virtual Result<std::vector<std::optional<SealedKeySet>>> FindMany(std::span<const KeySetRef> keys) = 0;
  // True when every query is a round trip to a database server (PostgreSQL), so that callers
  // with many lookups at once should gather them into FindMany; false when a query is an
  // in-process call (SQLite), where one Find per caller on its own thread is as cheap.
  virtual bool remote() const { return false; }
  // Which of these users have a key set for this period, in one query: present[i] for user_uris[i].
  virtual Result<std::vector<bool>> ContainsMany(std::span<const std::string> user_uris, uint64_t key_period_no) = 0;
  virtual Result<uint64_t> CountKeySets() = 0;
  // Calls `visit` for every key set of this certificate, in key order, until it returns an error.
  virtual Status ScanKeySets(const std::function<Status(const SealedKeySet&)>& visit) = 0;
  // How many key sets of this certificate are in each state.
  virtual Result<KeySetCounts> CountByState() = 0;
  virtual Status SetState(const std::string& user_uri, uint64_t key_period_no, KeySetState state) = 0;
  // Marks these key sets delivered at `unix_seconds`, in one transaction; only those still in
  // state issued change (a revoked one stays revoked, a delivered one keeps its first time).
  // Keys with no key set are ignored. Returns how many changed, and when `first` is given, which
  // (their first delivery, for the audit log).
  virtual Result<size_t> MarkDelivered(std::span<const KeySetRef> keys, int64_t unix_seconds,
                                       std::vector<KeySetRef>* first = nullptr) = 0;

  // Named KMS state.
  virtual Status PutBlob(std::string_view name, ByteView value) = 0;
  // Stores every (name, value) pair in one transaction: all of them or, on failure, none.
  virtual Status PutBlobs(std::span<const std::pair<std::string_view, ByteView>> blobs) = 0;
  virtual Result<std::optional<Bytes>> GetBlob(std::string_view name) = 0;
  // Stores `value` unless `name` exists, and returns what is stored: the first writer wins (for
  // values that must never change once used, such as the sealed data key).
  virtual Result<Bytes> PutBlobIfAbsent(std::string_view name, ByteView value) = 0;

  // The certificate whose key sets this object serves.
  virtual const std::string& cert_uri() const = 0;
  // The same store's certificates, revocations and counters (lifecycle_store.h).
  virtual LifecycleStore& lifecycle() = 0;
  // The same store (same database, same lifecycle) for the key sets of certificate `cert_uri`.
  virtual std::unique_ptr<KeyStore> ForCertificate(const std::string& cert_uri) = 0;

  // A cheap check, for readiness, that the store answers and takes writes (a small write).
  virtual Status Ping() = 0;
};

}  // namespace mcx
