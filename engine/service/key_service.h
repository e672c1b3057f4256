// KeyService: what the KMS interface (api/) asks of the engine.
//
// It hands out the certificates the KMS serves now (a snapshot, see served_certificates.h) and a
// user's key set for the key period that contains a given time, under the certificate in force
// at that time: the stored one when it was issued before (pre-provisioned in bulk, or asked for
// earlier), otherwise a freshly derived one that is stored before it is returned, so that asking
// twice gives the same SSK and PVT. Calls may block on the HSM or the store: never make them on
// an I/O thread. Implementations are safe to call from many threads at once.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "engine/keys/key_period.h"
#include "engine/keys/key_set.h"
#include "engine/keys/kms_certificate.h"
#include "engine/service/served_certificates.h"

namespace mcx {

class KeyService {
 public:
  virtual ~KeyService() = default;

  // What is served now. A caller keeps the snapshot for the whole of one answer.
  virtual std::shared_ptr<const ServedCertificates> Certificates() const = 0;

  // The key set of `user_uri` for the period that contains `t`, under `served`'s certificate in
  // force at `t`. Errors: InvalidArgument for a malformed URI, a time no certificate covers or
  // before the first period; PermissionDenied for a revoked user or key set; Unavailable when
  // the HSM or store is down.
  virtual Result<KeySet> KeySetAt(const ServedCertificates& served, const std::string& user_uri, NtpSeconds t) = 0;
  // The same answer, given to `done` exactly once, on this thread or another: a service may hand
  // a key set that must be derived to a batch and free the calling thread at once. The caller
  // keeps `served` alive until `done` is called. The default calls KeySetAt.
  virtual void KeySetAtAsync(const ServedCertificates& served, const std::string& user_uri, NtpSeconds t,
                             std::function<void(Result<KeySet>)> done) {
    done(KeySetAt(served, user_uri, t));
  }
  // ... under what is served now.
  Result<KeySet> KeySetAt(const std::string& user_uri, NtpSeconds t) { return KeySetAt(*Certificates(), user_uri, t); }

  // OK when the HSM session and the store answer; Unavailable (saying which) otherwise.
  virtual Status Ready() = 0;
};

// The checks every KeyService makes before it derives or reads: a certificate in force at `t`,
// and a user not revoked for the period of `t`. Returns the certificate.
Result<const IssuingCertificate*> CertificateForRequest(const ServedCertificates& served, const std::string& user_uri,
                                                        NtpSeconds t);

}  // namespace mcx
