// StoredKeyService: the KeyService of a KMS with a store.
//
// A key set asked for is served from the store when it was issued before (pre-provisioned in
// bulk, or asked for earlier); otherwise it is derived, sealed and stored first. When two
// requests race for the same new key set, the store keeps the first and both callers get it, so
// a user never sees two SSK/PVT pairs for one period. Every key set handed out is recorded as
// delivered through the DeliveryRecorder, when one is given (off the request's path).
#pragma once

#include <functional>

#include "engine/keys/key_set_source.h"
#include "engine/service/delivery_recorder.h"
#include "engine/service/key_service.h"
#include "engine/store/key_store.h"

namespace mcx {

class StoredKeyService final : public KeyService {
 public:
  // All references must outlive the service. `hsm_ping` checks the HSM for Ready(); `deliveries`
  // may be null (nothing is marked delivered).
  StoredKeyService(KmsCertificate certificate, KeySetSource& source, const KeySetCipher& cipher, KeyStore& store,
                   std::function<Status()> hsm_ping, DeliveryRecorder* deliveries = nullptr);

  const KmsCertificate& certificate() const override { return certificate_; }
  Result<KeySet> KeySetAt(const std::string& user_uri, NtpSeconds t) override;
  Status Ready() override;

 private:
  Result<KeySet> StoredOrNew(const std::string& user_uri, uint64_t key_period_no);

  KmsCertificate certificate_;
  KeySetSource& source_;
  const KeySetCipher& cipher_;
  KeyStore& store_;
  std::function<Status()> hsm_ping_;
  DeliveryRecorder* deliveries_;
};

}  // namespace mcx
