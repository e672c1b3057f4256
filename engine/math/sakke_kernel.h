// SakkeKernel: the arithmetic behind a SAKKE receiver secret key (RFC 6508 section 6.1.1).
//
// An RSK is [(a + z)^-1 mod q] P for the identifier a and the master secret z: one inversion
// mod q and one fixed-base scalar multiplication on the 1024-bit curve, the whole cost of a key
// set. The generic kernel here uses OpenSSL and is the reference that faster kernels are tested
// against. Implementations are safe to call from many threads at once.
#pragma once

#include <memory>
#include <span>

#include "base/bytes.h"
#include "base/secret.h"
#include "base/status.h"
#include "engine/math/curves.h"
#include "engine/math/lane_field.h"

namespace mcx {

class SakkeKernel {
 public:
  virtual ~SakkeKernel() = default;
  virtual const char* Name() const = 0;

  // out = [(a + z)^-1 mod q] P. `a` is the identifier read as a big-endian integer (any length);
  // `z` is 128 octets big-endian in [2, q-1]. Fails with InvalidArgument in the degenerate case
  // a + z = 0 mod q (probability about 2^-1020 for a random z).
  virtual Status ReceiverSecretKey(ByteView a, const SecretBytes& z, SakkePoint& out) const = 0;

  // Builds now whatever the first derivation would build (fast kernels: their fixed-base tables,
  // a few MiB and about half a second), so that no request waits for it. Optional; idempotent.
  virtual void PrepareTables() const {}

  // out = [k] P for a secret k of 128 octets in [1, q-1] (the KMS public key Z = [z]P).
  virtual Status MultiplyGenerator(const SecretBytes& k, SakkePoint& out) const = 0;

  // out[i] = the RSK of ids[i], for bulk derivation; the same values as ReceiverSecretKey one at
  // a time, which is what this default does. Fast kernels share work across the batch. On error
  // (InvalidArgument naming the index of an identifier with a + z = 0 mod q, or Internal) the
  // contents of out are unspecified.
  virtual Status ReceiverSecretKeys(std::span<const ByteView> ids, const SecretBytes& z,
                                    std::span<SakkePoint> out) const;

  // How many identifiers ReceiverSecretKeys shares its work over at a time (the fast kernels:
  // one inversion per window for this many); 1 where it shares nothing. Bulk callers that can
  // choose their batch size pass this many, or a multiple.
  virtual size_t BatchWidth() const { return 1; }
};

// OpenSSL BIGNUM and EC: correct, constant-time where OpenSSL is (BN_FLG_CONSTTIME inversion and
// its Montgomery ladder), and slow (milliseconds per RSK).
std::unique_ptr<SakkeKernel> NewGenericSakkeKernel();

// Own 1024-bit arithmetic: fixed-base tables, batched affine additions, blinded inversions
// (fixed_base.h). Constant time in z and the scalar. `path` picks the field arithmetic; an
// unavailable path falls back to portable. The table is built on first use (well under a second).
std::unique_ptr<SakkeKernel> NewFastSakkeKernel(MathPath path);
// The fast kernel on BestMathPath(): AVX-512 IFMA, else AVX2 + BMI2/ADX, else portable, unless
// MCX_MATH_PATH forces one (lane_field.h). Name() says which path it runs.
std::unique_ptr<SakkeKernel> NewBestSakkeKernel();

}  // namespace mcx
