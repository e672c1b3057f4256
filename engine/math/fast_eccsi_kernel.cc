// The fast ECCSI kernel: SSK = KSAK + HS * v mod q in our constant-time 4-limb Montgomery
// arithmetic (no BIGNUM, no allocation), PVT = [v]G by our constant-time fixed-base code.
#include <vector>

#include "engine/math/ct_audit.h"
#include "engine/math/eccsi_kernel.h"
#include "engine/math/montgomery.h"
#include "engine/math/p256_fixed_base.h"

namespace mcx {
namespace {

// A secret scalar below q (by the caller's contract); the range check's outcome is declassified
// because it is always true for correct callers.
Result<Limbs256> LoadSecret(const SecretBytes& k) {
  if (k.size() != kP256ScalarBytes) return Status::InvalidArgument("an ECCSI scalar must be 32 octets");
  Limbs256 v = LimbsFromBytes<4>(k.view());
  uint64_t in_range = LessThanMask(v, P256OrderModulus().m);
  Declassify(&in_range, sizeof in_range);
  if (in_range == 0) return Status::InvalidArgument("an ECCSI scalar is not below q");
  return v;
}

// A scalar for [k]G: below q and, unlike KSAK's and v's use in the SSK, nonzero ([0]G has no
// encoding). The zero test's outcome is declassified for the same reason as the range check.
Result<Limbs256> LoadMultiplier(const SecretBytes& k) {
  Result<Limbs256> v = LoadSecret(k);
  if (!v.ok()) return v;
  uint64_t zero = IsZeroMask(*v);
  Declassify(&zero, sizeof zero);
  if (zero != 0) return Status::InvalidArgument("an ECCSI scalar for [k]G must not be 0");
  return v;
}

class FastEccsiKernel final : public EccsiKernel {
 public:
  const char* Name() const override { return "fast (own SSK and fixed-base PVT arithmetic)"; }

  void PrepareTables() const override { PrepareP256Table(); }

  Status MultiplyGenerator(const SecretBytes& k, P256Point& out) const override {
    Result<Limbs256> v = LoadMultiplier(k);
    if (!v.ok()) return v.status();
    Status st = P256MultiplyGenerator(*v, out);
    SecureWipe(&*v, sizeof(Limbs256));
    return st;
  }

  Status MultiplyGeneratorBatch(std::span<const SecretBytes> k, std::span<P256Point> out) const override {
    if (k.size() != out.size()) return Status::InvalidArgument("MultiplyGeneratorBatch: size mismatch");
    std::vector<Limbs256> scalars(k.size());
    Status st;
    for (size_t i = 0; i < k.size() && st.ok(); ++i) {
      Result<Limbs256> v = LoadMultiplier(k[i]);
      if (v.ok()) {
        scalars[i] = *v;
        SecureWipe(&*v, sizeof(Limbs256));
      } else {
        st = v.status();
      }
    }
    if (st.ok()) st = P256MultiplyGeneratorBatch(scalars, out);
    SecureWipe(scalars.data(), scalars.size() * sizeof(Limbs256));
    return st;
  }

  Status SigningKey(const SecretBytes& ksak, ByteView hs, const SecretBytes& v,
                    SecretBytes& ssk) const override {
    if (hs.size() != 32) return Status::InvalidArgument("HS must be 32 octets");
    const Modulus256& q = P256OrderModulus();
    Result<Limbs256> k = LoadSecret(ksak);
    if (!k.ok()) return k.status();
    Result<Limbs256> vv = LoadSecret(v);
    if (!vv.ok()) return vv.status();
    // HS < 2^256 < 2q, so one conditional subtraction reduces it: SubMod gives h - q when
    // h >= q, and h - q + q = h (mod 2^256) otherwise.
    Limbs256 h = LimbsFromBytes<4>(hs);
    SubMod(q, h, h, q.m);
    Limbs256 t;
    MontMul(q, t, h, q.r2);  // hR
    MontMul(q, t, t, *vv);   // h v
    AddMod(q, t, t, *k);
    ssk = SecretBytes(kP256ScalarBytes);
    LimbsToBytes<4>(t, std::span<uint8_t, 32>(ssk.data(), 32));
    SecureWipe(t.data(), sizeof t);
    SecureWipe(&*k, sizeof(Limbs256));
    SecureWipe(&*vv, sizeof(Limbs256));
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<EccsiKernel> NewFastEccsiKernel() { return std::make_unique<FastEccsiKernel>(); }

}  // namespace mcx
