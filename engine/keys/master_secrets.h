// MasterSecrets and KmsPublicKeys: the KMS's two key pairs.
//
// z (SAKKE, 128 octets, in [2, q-1]) and KSAK (ECCSI, 32 octets, in [1, q-1]) are the crown
// jewels: whoever holds z can compute every user's RSK. They are drawn from a RandomSource (the
// HSM's generator in production) by rejection sampling, so they are uniform. Their public halves
// Z = [z]P and KPAK = [KSAK]G go in the KMS certificate (PubEncKey, PubAuthKey).
#pragma once

#include "base/random_source.h"
#include "base/secret.h"
#include "base/status.h"
#include "engine/math/curves.h"
#include "engine/math/eccsi_kernel.h"
#include "engine/math/sakke_kernel.h"

namespace mcx {

struct MasterSecrets {
  SecretBytes z;     // SAKKE master secret, 128 octets big-endian
  SecretBytes ksak;  // ECCSI KMS secret authentication key, 32 octets big-endian
};

struct KmsPublicKeys {
  SakkePoint z_pub{};  // Z = [z]P, PubEncKey
  P256Point kpak{};    // KPAK = [KSAK]G, PubAuthKey
};

// Draws a uniform integer in [min, order-1] of `len` octets, by rejection sampling. order is
// SakkeOrder() or P256Order(), the two the key material uses (any other fails).
Result<SecretBytes> DrawScalar(RandomSource& rng, const BIGNUM* order, size_t len, unsigned min);

Result<MasterSecrets> GenerateMasterSecrets(RandomSource& rng);

// Checks ranges (z in [2, q-1], KSAK in [1, q-1]) and computes the public keys.
Result<KmsPublicKeys> DerivePublicKeys(const MasterSecrets& secrets, const SakkeKernel& sakke,
                                       const EccsiKernel& eccsi);

}  // namespace mcx
