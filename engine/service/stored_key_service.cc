#include "engine/service/stored_key_service.h"

namespace mcx {

StoredKeyService::StoredKeyService(KmsCertificate certificate, KeySetSource& source, const KeySetCipher& cipher,
                                   KeyStore& store, std::function<Status()> hsm_ping,
                                   DeliveryRecorder* deliveries)
    : certificate_(std::move(certificate)),
      source_(source),
      cipher_(cipher),
      store_(store),
      hsm_ping_(std::move(hsm_ping)),
      deliveries_(deliveries) {}

Result<KeySet> StoredKeyService::KeySetAt(const std::string& user_uri, NtpSeconds t) {
  MCX_RETURN_IF_ERROR(ValidateUserUri(user_uri));
  Result<KeyPeriod> period = KeyPeriod::Containing(certificate_.params, t);
  if (!period.ok()) return period.status();
  Result<KeySet> ks = StoredOrNew(user_uri, period->number);
  if (ks.ok() && deliveries_ != nullptr) deliveries_->Record(user_uri, period->number);
  return ks;
}

Result<KeySet> StoredKeyService::StoredOrNew(const std::string& user_uri, uint64_t key_period_no) {
  Result<std::optional<SealedKeySet>> found = store_.Find(user_uri, key_period_no);
  if (!found.ok()) return found.status();
  if (found->has_value()) return cipher_.Open(**found);

  Result<KeySet> fresh = source_.Derive(user_uri, key_period_no);
  if (!fresh.ok()) return fresh.status();
  Result<SealedKeySet> sealed = cipher_.Seal(*fresh);
  if (!sealed.ok()) return sealed.status();
  Result<SealedKeySet> kept = store_.InsertOrGet(*sealed);
  if (!kept.ok()) return kept.status();
  if (kept->nonce == sealed->nonce) return fresh;  // ours was stored
  return cipher_.Open(*kept);                      // another request stored one first
}

Status StoredKeyService::Ready() {
  MCX_RETURN_IF_ERROR(store_.Ping().Annotate("store"));
  if (hsm_ping_) MCX_RETURN_IF_ERROR(hsm_ping_().Annotate("HSM"));
  return Status::Ok();
}

}  // namespace mcx
