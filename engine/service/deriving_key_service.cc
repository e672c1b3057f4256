#include "engine/service/deriving_key_service.h"

#include "engine/keys/in_memory_kms.h"

#include <functional>

namespace mcx {

Result<std::unique_ptr<DerivingKeyService>> DerivingKeyService::CreateThrowAway(const CommunityParameters& params,
                                                                                RandomSource& rng, Options options,
                                                                                int validity_days) {
  if (validity_days < 1) return Status::InvalidArgument("the certificate must be valid for at least one day");
  Result<InMemoryKms> kms = InMemoryKms::Create(rng);
  if (!kms.ok()) return kms.status();
  KmsCertificate cert;
  cert.params = params;
  cert.cert_uri = params.kms_uri + ".cert";
  cert.issuer = params.kms_uri;
  // From the start of the key period in progress: a certificate takes over on a period boundary.
  Result<KeyPeriod> current = KeyPeriod::Containing(params, NtpNow(*options.env));
  if (!current.ok()) return current.status();
  cert.valid_from = current->valid_from;
  cert.valid_to = cert.valid_from + static_cast<NtpSeconds>(validity_days) * 86400 - 1;
  cert.keys = kms->pub;
  return std::make_unique<DerivingKeyService>(std::move(cert), std::move(kms->secrets), std::move(kms->sakke),
                                              std::move(kms->eccsi), options);
}

DerivingKeyService::DerivingKeyService(KmsCertificate certificate, MasterSecrets secrets,
                                       std::unique_ptr<SakkeKernel> sakke, std::unique_ptr<EccsiKernel> eccsi,
                                       Options options)
    : certificate_(std::move(certificate)),
      served_(ServedCertificates::Single({certificate_, nullptr, nullptr, nullptr})),
      secrets_(std::move(secrets)),
      sakke_(std::move(sakke)),
      eccsi_(std::move(eccsi)),
      deriver_(certificate_.params, secrets_, certificate_.keys, *sakke_, *eccsi_),
      options_(options) {
  if (options_.max_issued_sets < kShards) options_.max_issued_sets = kShards;
}

DerivingKeyService::Shard& DerivingKeyService::ShardFor(const Key& key) {
  size_t h = std::hash<std::string>{}(key.first) ^ (std::hash<uint64_t>{}(key.second) * 0x9e3779b97f4a7c15ULL);
  return shards_[h % kShards];
}

Result<KeySet> DerivingKeyService::KeySetAt(const ServedCertificates& served, const std::string& user_uri,
                                           NtpSeconds t) {
  MCX_RETURN_IF_ERROR(ValidateUserUri(user_uri));
  Result<const IssuingCertificate*> cert = CertificateForRequest(served, user_uri, t);
  if (!cert.ok()) return cert.status();
  Result<KeyPeriod> period = KeyPeriod::Containing(certificate_.params, t);
  if (!period.ok()) return period.status();
  Key key{user_uri, period->number};
  Shard& shard = ShardFor(key);
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    auto it = shard.sets.find(key);
    if (it != shard.sets.end()) return KeySet(*it->second);
  }
  // Derive outside the lock; when two threads race, the first insertion wins and both return it.
  Result<KeySet> derived = deriver_.Derive(user_uri, period->number, rng_);
  if (!derived.ok()) return derived.status();
  auto fresh = std::make_shared<const KeySet>(std::move(derived).value());
  std::lock_guard<std::mutex> lock(shard.mu);
  auto [it, inserted] = shard.sets.emplace(key, fresh);
  if (inserted) {
    shard.order.push_back(key);
    const size_t per_shard = options_.max_issued_sets / kShards;
    while (shard.order.size() > per_shard) {
      shard.sets.erase(shard.order.front());
      shard.order.pop_front();
    }
  }
  return KeySet(*it->second);
}

size_t DerivingKeyService::issued_count() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    n += s.sets.size();
  }
  return n;
}

}  // namespace mcx
