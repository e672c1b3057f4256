// KeyService: what the KMS interface (api/) asks of the engine.
//
// It hands out the KMS certificate and a user's key set for the key period that contains a given
// time: the stored one when it was issued before (pre-provisioned in bulk, or asked for earlier),
// otherwise a freshly derived one that is stored before it is returned, so that asking twice gives
// the same SSK and PVT. Calls may block on the HSM or the store: never make them on an I/O thread.
// Implementations are safe to call from many threads at once.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "engine/keys/key_period.h"
#include "engine/keys/key_set.h"
#include "engine/keys/kms_certificate.h"

namespace mcx {

class KeyService {
 public:
  virtual ~KeyService() = default;

  virtual const KmsCertificate& certificate() const = 0;

  // The key set of `user_uri` for the period that contains `t`. Errors: InvalidArgument for a
  // malformed URI or a time before the first period; Unavailable when the HSM or store is down.
  virtual Result<KeySet> KeySetAt(const std::string& user_uri, NtpSeconds t) = 0;

  // OK when the HSM session and the store answer; Unavailable (saying which) otherwise.
  virtual Status Ready() = 0;
};

}  // namespace mcx
