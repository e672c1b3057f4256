// KeySetSource: the one seam through which the KMS obtains key sets.
//
// A key set is a function of (master secrets, UID, fresh randomness). Today the host computes it:
// HostKeySetSource runs the engine's KeySetDeriver on master secrets held in this process
// (unsealed by the HSM into guarded memory, see engine/custody), drawing ECCSI's v from a
// RandomSource (the HSM's generator in production). An HSM whose vendor firmware can compute RSKs
// and SSKs itself would implement this interface by calling a vendor-defined mechanism on a
// master-secret object that never leaves the token; bulk provisioning and the HTTP interface,
// which only see this interface, would not change. See docs/hsm.md, "The derivation seam".
#pragma once

#include <algorithm>
#include <span>
#include <string>
#include <vector>

#include "engine/keys/key_set_deriver.h"

namespace mcx {

class KeySetSource {
 public:
  virtual ~KeySetSource() = default;
  virtual const KmsPublicKeys& public_keys() const = 0;
  // Thread-safe.
  virtual Result<KeySet> Derive(const std::string& user_uri, uint64_t key_period_no) = 0;
  // One result per URI, each as Derive(user_uris[i], key_period_nos[i]) would give it (the spans
  // are of equal length); sources that can share work across a batch (the fast kernels share
  // their inversions) do so.
  virtual std::vector<Result<KeySet>> DeriveBatch(std::span<const std::string> user_uris,
                                                  std::span<const uint64_t> key_period_nos) = 0;
  // How many users a DeriveBatch call should hold for the source to share its work fully (1: it
  // shares nothing). Bulk provisioning batches this wide.
  virtual size_t BatchWidth() const { return 1; }
  // The same, every user in one key period.
  std::vector<Result<KeySet>> DeriveBatch(std::span<const std::string> user_uris, uint64_t key_period_no) {
    const std::vector<uint64_t> periods(user_uris.size(), key_period_no);
    return DeriveBatch(user_uris, periods);
  }
};

// Users per DeriveBatch call for bulk callers that choose their own batches (the provisioning
// pipeline, `mcx-kms demo`, the benchmarks): the source's BatchWidth(), and at least 64, so that
// the per-batch costs around it (a store lookup, a task) stay small next to the derivations.
inline size_t BulkDeriveBatch(const KeySetSource& source) { return std::max<size_t>(64, source.BatchWidth()); }

class HostKeySetSource final : public KeySetSource {
 public:
  // `secrets`, the kernels and `rng` must outlive this.
  HostKeySetSource(const CommunityParameters& params, const MasterSecrets& secrets, const KmsPublicKeys& pub,
                   const SakkeKernel& sakke, const EccsiKernel& eccsi, RandomSource& rng)
      : deriver_(params, secrets, pub, sakke, eccsi), rng_(rng) {}

  const KeySetDeriver& deriver() const { return deriver_; }
  const KmsPublicKeys& public_keys() const override { return deriver_.public_keys(); }
  Result<KeySet> Derive(const std::string& user_uri, uint64_t key_period_no) override {
    return deriver_.Derive(user_uri, key_period_no, rng_);
  }
  size_t BatchWidth() const override { return deriver_.BatchWidth(); }
  using KeySetSource::DeriveBatch;
  std::vector<Result<KeySet>> DeriveBatch(std::span<const std::string> user_uris,
                                          std::span<const uint64_t> key_period_nos) override {
    return deriver_.DeriveBatch(user_uris, key_period_nos, rng_);
  }

 private:
  KeySetDeriver deriver_;
  RandomSource& rng_;
};

}  // namespace mcx
