// LifecycleStore: what changes over a KMS's life besides its key sets.
//
//   certificates   its own (Role Root, each with master secrets sealed by the HSM's KEK) and
//                  other security domains' imported ones (Role External, public only)
//   revoked users  from a time on, a user gets no key material and its key sets of the periods
//                  that end at or after that time are marked revoked
//   CacheNum       the certificate cache's number: moves with every change to the set of
//                  certificates served (added, removed, revoked, expired)
//   generation     moves with every change at all, so a running server that polls it notices
//                  a change made by another process within one poll
// Each change and its counter moves are one transaction. Implementations are thread-safe and
// safe to use from several processes on one store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "engine/keys/key_period.h"

namespace mcx {

struct StoredCertificate {
  std::string cert_uri;
  bool own = true;              // this KMS's (sealed master secrets below) or imported
  Bytes record;                 // the certificate's fields, serialized by engine/custody
  Bytes sealed_z, sealed_ksak;  // own certificates only
  NtpSeconds valid_from = 0, valid_to = 0;
  bool revoked = false;
  bool expired = false;         // past its ValidTo and out of the cache
  int64_t added_at = 0;         // Unix seconds
};

struct UserRevocation {
  std::string user_uri;
  NtpSeconds from = 0;     // no key material for periods that end at or after this
  int64_t revoked_at = 0;  // Unix seconds
};

class LifecycleStore {
 public:
  virtual ~LifecycleStore() = default;

  // Every certificate, in the order they were added.
  virtual Result<std::vector<StoredCertificate>> ListCertificates() = 0;
  // AlreadyExists when the CertUri is taken. CacheNum and the generation move.
  virtual Status AddCertificate(const StoredCertificate& cert) = 0;
  // Takes out an imported certificate (NotFound; FailedPrecondition for one of this KMS's own,
  // which is revoked instead, never removed: its key sets refer to it).
  virtual Status RemoveImportedCertificate(const std::string& cert_uri) = 0;
  // Marks a certificate revoked, and every key set under it; NotFound when there is none.
  // Returns false when it was revoked already (nothing moves).
  virtual Result<bool> RevokeCertificate(const std::string& cert_uri) = 0;
  // Marks the certificates whose ValidTo is before `now` expired; returns how many changed.
  virtual Result<size_t> ExpireCertificates(NtpSeconds now) = 0;

  // Revokes `user_uri` from `from` on (a later revocation of the same user replaces an earlier
  // one's time only when it is earlier); marks the key sets of the periods that end at or after
  // `from` revoked, under every certificate. Returns how many key sets changed.
  virtual Result<size_t> RevokeUser(const std::string& user_uri, NtpSeconds from) = 0;
  // Lifts the block on a user; key sets revoked stay revoked. Returns false when none was there.
  virtual Result<bool> ReinstateUser(const std::string& user_uri) = 0;
  virtual Result<std::vector<UserRevocation>> ListRevokedUsers() = 0;

  virtual Result<uint64_t> CacheNum() = 0;
  virtual Result<uint64_t> Generation() = 0;
};

}  // namespace mcx
