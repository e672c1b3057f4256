// DerivingKeyService: the store-less KeyService. It derives a key set on demand from master
// secrets held in memory and keeps every set it issued in a bounded, thread-safe in-memory map,
// so asking twice for the same user and period returns the same RSK, SSK and PVT.
//
// This is the mode for tests, demos and `mcx-kms serve --demo`: nothing is persisted, and when
// the map is full the oldest issued sets are forgotten (a later request then gets a freshly
// derived SSK/PVT for that period). The store-backed KeyService with HSM custody lives beside it.
//
// KeySetAt() runs a derivation (milliseconds) on a miss: call it from a worker thread, never from
// an I/O thread. All methods are safe to call from many threads at once.
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "base/pooled_random.h"
#include "engine/keys/key_set_deriver.h"
#include "engine/service/key_service.h"

namespace mcx {

class DerivingKeyService final : public KeyService {
 public:
  struct Options {
    size_t max_issued_sets = 1 << 20;  // the map's bound; the oldest entries go first
    Env* env = &Env::Default();        // CreateThrowAway's certificate is valid from its "now"
  };

  // A throw-away KMS: fresh master secrets drawn from `rng`, the fastest kernels, and a certificate
  // for `params` (CertUri "<kms_uri>.cert", valid from now for `validity_days`).
  static Result<std::unique_ptr<DerivingKeyService>> CreateThrowAway(const CommunityParameters& params,
                                                                     RandomSource& rng, Options options,
                                                                     int validity_days = 365);

  // Takes ownership of the secrets and kernels; `certificate` must carry their public keys.
  DerivingKeyService(KmsCertificate certificate, MasterSecrets secrets, std::unique_ptr<SakkeKernel> sakke,
                     std::unique_ptr<EccsiKernel> eccsi, Options options);

  const KmsCertificate& certificate() const { return certificate_; }
  std::shared_ptr<const ServedCertificates> Certificates() const override { return served_; }
  // `served` may be this service's own snapshot or a caller's with the same certificate.
  Result<KeySet> KeySetAt(const ServedCertificates& served, const std::string& user_uri, NtpSeconds t) override;
  using KeyService::KeySetAt;
  Status Ready() override { return Status::Ok(); }

  // How many key sets the map holds now.
  size_t issued_count() const;

 private:
  using Key = std::pair<std::string, uint64_t>;  // user URI, KeyPeriodNo
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mu;
    std::map<Key, std::shared_ptr<const KeySet>> sets;
    std::deque<Key> order;  // insertion order, for eviction
  };
  Shard& ShardFor(const Key& key);

  KmsCertificate certificate_;
  std::shared_ptr<const ServedCertificates> served_;  // one certificate, nothing revoked
  MasterSecrets secrets_;
  std::unique_ptr<SakkeKernel> sakke_;
  std::unique_ptr<EccsiKernel> eccsi_;
  KeySetDeriver deriver_;
  Options options_;
  OpenSslRandom rng_;
  Shard shards_[kShards];
};

}  // namespace mcx
