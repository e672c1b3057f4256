// KeySetDeriver: turns (master secrets, identity, key period, randomness) into a KeySet.
//
// This is the seam where key derivation happens: one function of the master secrets, the UID and
// fresh randomness (ECCSI's v). Everything a derivation needs is fixed at construction, so one
// deriver serves many threads at once; each call takes the caller's RandomSource.
//
//   RSK = [(a + z)^-1 mod q] P, a = UID                      (RFC 6508 6.1.1)
//   PVT = [v] G, HS = SHA-256(G || KPAK || UID || PVT),
//   SSK = (KSAK + HS * v) mod q, retried while SSK or HS is 0 (RFC 6507 5.1.1)
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "base/random_source.h"
#include "base/sha256.h"
#include "engine/keys/community_parameters.h"
#include "engine/keys/key_set.h"
#include "engine/keys/master_secrets.h"

namespace mcx {

struct SigningKeyPair {
  SecretBytes ssk;
  P256Point pvt{};
};

class KeySetDeriver {
 public:
  // The kernels must outlive the deriver.
  KeySetDeriver(CommunityParameters params, const MasterSecrets& secrets, KmsPublicKeys pub,
                const SakkeKernel& sakke, const EccsiKernel& eccsi);

  const CommunityParameters& params() const { return params_; }
  const KmsPublicKeys& public_keys() const { return pub_; }
  // The SAKKE kernel's batch width (SakkeKernel::BatchWidth): DeriveBatch is fastest per key set
  // with this many users or a multiple.
  size_t BatchWidth() const;

  Result<KeySet> Derive(const std::string& user_uri, uint64_t key_period_no, RandomSource& rng) const;
  // Key sets for many users in one key period: element i is what Derive(user_uris[i], ...) returns
  // (same values, same errors), but the RSKs are computed together through the kernel's batch
  // entry point, which is several times faster per key set on the fast kernels; the PVTs likewise
  // (EccsiKernel::MultiplyGeneratorBatch: one shared inversion on the fast kernel).
  std::vector<Result<KeySet>> DeriveBatch(std::span<const std::string> user_uris, uint64_t key_period_no,
                                          RandomSource& rng) const;
  // The same with a key period per user (key_period_nos[i] for user_uris[i]; the spans are of
  // equal length): the batches of on-demand requests, which ask for different periods.
  std::vector<Result<KeySet>> DeriveBatch(std::span<const std::string> user_uris,
                                          std::span<const uint64_t> key_period_nos, RandomSource& rng) const;

  // The two halves, for an arbitrary identifier (the RFC test vectors use a non-UID one).
  Status ReceiverSecretKey(ByteView id, SecretBytes& rsk) const;
  Result<SigningKeyPair> SigningKey(ByteView id, RandomSource& rng) const;
  // SigningKey() for many identifiers (element j for ids[j]): one v per identifier drawn first,
  // then their PVTs together (EccsiKernel::MultiplyGeneratorBatch). A user whose batched attempt
  // fails (HS or SSK 0 mod q, or the batch failing) goes through SigningKey() alone. DeriveBatch
  // uses this.
  std::vector<Result<SigningKeyPair>> SigningKeyBatch(std::span<const ByteView> ids, RandomSource& rng) const;
  // One attempt with a given v (the RFC 6507 test vector fixes it). Fails with InvalidArgument
  // when SSK or HS is 0 mod q; SigningKey() then draws a fresh v.
  Result<SigningKeyPair> SigningKeyWith(ByteView id, const SecretBytes& v) const;

 private:
  // The rest of SigningKeyWith once PVT = [v]G is known: HS, then SSK.
  Result<SigningKeyPair> SigningKeyFromPvt(ByteView id, const SecretBytes& v, const P256Point& pvt) const;

  CommunityParameters params_;
  const MasterSecrets& secrets_;
  KmsPublicKeys pub_;
  const SakkeKernel& sakke_;
  const EccsiKernel& eccsi_;
  // HS's fixed prefix G || KPAK, absorbed once per KMS (shared by copies of the deriver).
  std::shared_ptr<const Sha256WithPrefix> hs_prefix_;
};

}  // namespace mcx
