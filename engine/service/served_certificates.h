// ServedCertificates: one immutable snapshot of what a KMS serves — its certificates (its own and
// imported ones), the certificate cache's number, its revoked users — with the means to issue key
// sets under each of its own certificates.
//
// A KMS's lifecycle (rollover, revocation, import; engine/store/lifecycle_store.h) changes it; the
// KMS then publishes a new snapshot, and a request keeps the one it started with to its end, so
// one answer never mixes two states. The pointers in IssuingCertificate belong to the KMS and
// outlive every snapshot.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/keys/key_set_source.h"
#include "engine/keys/kms_certificate.h"
#include "engine/store/key_store.h"

namespace mcx {

struct IssuingCertificate {
  KmsCertificate certificate;
  KeySetSource* source = nullptr;        // derives under this certificate's master secrets
  const KeySetCipher* cipher = nullptr;  // seals for this certificate (its CertUri is in the AAD)
  KeyStore* store = nullptr;             // the store, for this certificate's key sets; may be null
};

struct ServedCertificates {
  std::string kms_uri;  // this KMS's, the same in all its certificates
  uint64_t cache_num = 1;
  uint64_t generation = 0;
  std::vector<KmsCertificate> cache;        // what the certificate cache shows: all but the expired
  std::vector<IssuingCertificate> issuing;  // this KMS's own, not revoked, not expired
  std::unordered_map<std::string, NtpSeconds> revoked_users;  // user URI -> revoked from

  // One certificate, nothing revoked (a KMS without a lifecycle: tests, benches, demos).
  static std::shared_ptr<const ServedCertificates> Single(IssuingCertificate cert);

  // The own certificate in force at `t`: its window holds t and, of several, the one that took
  // over last. Null when none is.
  const IssuingCertificate* InForceAt(NtpSeconds t) const;
  // The earliest ValidFrom and latest ValidTo of the certificates that issue (0, 0 when none).
  std::pair<NtpSeconds, NtpSeconds> IssuingWindow() const;
  // When `user_uri` was revoked from, if it was.
  std::optional<NtpSeconds> RevokedFrom(const std::string& user_uri) const;
};

}  // namespace mcx
