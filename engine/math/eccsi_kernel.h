// EccsiKernel: the P-256 arithmetic behind an ECCSI signing key (RFC 6507 section 5.1.1).
//
// PVT = [v]G for a random v, and SSK = (KSAK + HS * v) mod q. The generic kernel uses OpenSSL's
// P-256 (its fixed-base code is constant time). Safe to call from many threads at once.
#pragma once

#include <memory>
#include <span>

#include "base/bytes.h"
#include "base/secret.h"
#include "base/status.h"
#include "engine/math/curves.h"

namespace mcx {

class EccsiKernel {
 public:
  virtual ~EccsiKernel() = default;
  virtual const char* Name() const = 0;

  // Builds now whatever the first [k]G would build (the fast kernel: its comb tables), so that no
  // request waits for it. Optional; idempotent.
  virtual void PrepareTables() const {}

  // out = [k]G for a secret k of 32 octets in [1, q-1].
  virtual Status MultiplyGenerator(const SecretBytes& k, P256Point& out) const = 0;

  // out[i] = [k[i]]G for every i (sizes must match). Kernels that can share work between the
  // points (one inversion for all of them) override this; the default calls MultiplyGenerator.
  virtual Status MultiplyGeneratorBatch(std::span<const SecretBytes> k, std::span<P256Point> out) const {
    if (k.size() != out.size()) return Status::InvalidArgument("MultiplyGeneratorBatch: size mismatch");
    for (size_t i = 0; i < k.size(); ++i) MCX_RETURN_IF_ERROR(MultiplyGenerator(k[i], out[i]));
    return Status::Ok();
  }

  // ssk = (ksak + hs * v) mod q, 32 octets big-endian. ksak and v are 32 octets; hs is the
  // 32-octet hash. The result may be zero; the caller checks and draws a fresh v.
  virtual Status SigningKey(const SecretBytes& ksak, ByteView hs, const SecretBytes& v,
                            SecretBytes& ssk) const = 0;
};

std::unique_ptr<EccsiKernel> NewGenericEccsiKernel();
// SSK and PVT in our own constant-time arithmetic (audited under valgrind, tests/ctgrind): SSK by
// 4-limb Montgomery arithmetic mod q, PVT by a fixed-base comb of signed 7-bit windows with
// complete additions (engine/math/p256_fixed_base.h), batches sharing one blinded inversion.
std::unique_ptr<EccsiKernel> NewFastEccsiKernel();

}  // namespace mcx
