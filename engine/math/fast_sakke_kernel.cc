// The fast SAKKE kernel: (a + z)^-1 mod q by blinded batch inversion, then fixed_base.h
// (MultiplyBaseBatch for bulk derivation, MultiplyBaseSingle for one key at a time).
#include <gmp.h>

#include <vector>

#include "engine/math/ct_audit.h"
#include "engine/math/fixed_base.h"
#include "engine/math/inverse.h"
#include "engine/math/sakke_kernel.h"

namespace mcx {
namespace {

// a mod q for a public identifier of any length (variable time is fine: a is public).
Limbs1024 ReduceIdentifier(ByteView a) {
  const Modulus1024& q = SakkeOrderModulus();
  mpz_t az, qz;
  mpz_inits(az, qz, nullptr);
  mpz_import(az, a.size(), 1, 1, 0, 0, a.data());
  mpz_import(qz, kLimbs1024, -1, sizeof(uint64_t), 0, 0, q.m.data());
  mpz_mod(az, az, qz);
  Limbs1024 r{};
  mpz_export(r.data(), nullptr, -1, sizeof(uint64_t), 0, 0, az);
  mpz_clears(az, qz, nullptr);
  return r;
}

// z as limbs, checked to be below q. The check's outcome is declassified: z < q holds by the
// kernel's contract, so the bit is public (a failure reveals only a caller bug).
Result<Limbs1024> LoadSecretScalar(const SecretBytes& k) {
  if (k.size() != sakke::kScalarBytes) return Status::InvalidArgument("a SAKKE scalar must be 128 octets");
  Limbs1024 v = LimbsFromBytes<kLimbs1024>(k.view());
  uint64_t in_range = LessThanMask(v, SakkeOrderModulus().m);
  Declassify(&in_range, sizeof in_range);
  if (in_range == 0) return Status::InvalidArgument("a SAKKE scalar is not below q");
  return v;
}

class FastSakkeKernel final : public SakkeKernel {
 public:
  FastSakkeKernel(MathPath path, const LaneField& field, const LaneField& single)
      : field_(field), single_(single) {
    name_ = std::string("fast, ") + MathPathName(path) + " path (" + field.name;
    if (&single != &field) name_ += std::string("; one at a time: ") + single.name;
    name_ += ")";
  }
  const char* Name() const override { return name_.c_str(); }

  void PrepareTables() const override {
    PrepareFixedBaseTable(field_);
    PrepareFixedBaseTable(single_);
  }

  Status ReceiverSecretKey(ByteView a, const SecretBytes& z, SakkePoint& out) const override {
    // One scalar: fixed_base.h spreads its windows over the lanes (MultiplyBaseSingle).
    Result<Limbs1024> zz = LoadSecretScalar(z);
    if (!zz.ok()) return zz.status();
    const Modulus1024& q = SakkeOrderModulus();
    Limbs1024 s[1], scratch[1];
    AddMod(q, s[0], ReduceIdentifier(a), *zz);
    uint64_t zero = IsZeroMask(s[0]);
    Declassify(&zero, sizeof zero);  // the documented error outcome, as in ReceiverSecretKeys
    Status st;
    if (zero != 0) {
      st = Status::InvalidArgument(
          "this identifier cannot be keyed under this KMS's master secret (a + z = 0 mod q, a degenerate "
          "case of negligible probability): rotate the SAKKE master secret");
    }
    if (st.ok()) st = BatchInverse(q, std::span<Limbs1024>(s), std::span<Limbs1024>(scratch));  // blinded
    if (st.ok()) st = MultiplyBaseSingle(single_, s[0], out);
    SecureWipe(s, sizeof s);
    SecureWipe(scratch, sizeof scratch);
    SecureWipe(&*zz, sizeof(Limbs1024));
    return st;
  }

  Status MultiplyGenerator(const SecretBytes& k, SakkePoint& out) const override {
    Result<Limbs1024> kk = LoadSecretScalar(k);
    if (!kk.ok()) return kk.status();
    uint64_t zero = IsZeroMask(*kk);
    Declassify(&zero, sizeof zero);  // k != 0 by contract; the bit is public
    if (zero != 0) return Status::InvalidArgument("the SAKKE scalar is zero");
    Status st = MultiplyBaseSingle(single_, *kk, out);
    SecureWipe(&*kk, sizeof(Limbs1024));
    return st;
  }

  Status ReceiverSecretKeys(std::span<const ByteView> ids, const SecretBytes& z,
                            std::span<SakkePoint> out) const override {
    if (ids.size() != out.size()) return Status::Internal("ReceiverSecretKeys: ids and out differ in size");
    Result<Limbs1024> zz = LoadSecretScalar(z);
    if (!zz.ok()) return zz.status();
    const Modulus1024& q = SakkeOrderModulus();
    std::vector<Limbs1024> s(ids.size()), scratch(ids.size());
    Status st;
    for (size_t i = 0; i < ids.size() && st.ok(); ++i) {
      AddMod(q, s[i], ReduceIdentifier(ids[i]), *zz);
      // Declassified: whether a + z = 0 is the documented error outcome (probability ~2^-1020).
      uint64_t zero = IsZeroMask(s[i]);
      Declassify(&zero, sizeof zero);
      if (zero != 0) {
        st = Status::InvalidArgument(
            "identifier #" + std::to_string(i) +
            " cannot be keyed under this KMS's master secret (a + z = 0 mod q, a degenerate case of "
            "negligible probability): rotate the SAKKE master secret");
      }
    }
    if (st.ok()) st = BatchInverse(q, s, scratch);
    if (st.ok()) st = MultiplyBaseBatch(field_, s, out);
    SecureWipe(s.data(), s.size() * sizeof(Limbs1024));
    SecureWipe(scratch.data(), scratch.size() * sizeof(Limbs1024));
    SecureWipe(&*zz, sizeof(Limbs1024));
    return st;
  }

  size_t BatchWidth() const override { return field_.batch; }

 private:
  const LaneField& field_;   // many scalars (MultiplyBaseBatch)
  const LaneField& single_;  // one scalar (MultiplyBaseSingle)
  std::string name_;
};

}  // namespace

std::unique_ptr<SakkeKernel> NewFastSakkeKernel(MathPath path) {
  if (!MathPathAvailable(path)) path = MathPath::kPortable;
  return std::make_unique<FastSakkeKernel>(path, LaneFieldFor(path), SingleLaneFieldFor(path));
}

std::unique_ptr<SakkeKernel> NewBestSakkeKernel() { return NewFastSakkeKernel(BestMathPath()); }

}  // namespace mcx
