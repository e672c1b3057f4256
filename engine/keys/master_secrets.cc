#include "engine/keys/master_secrets.h"

#include "base/secret.h"
#include "engine/math/montgomery.h"

namespace mcx {
namespace {

// Whether min <= value < order, for a secret value, read as N-limb integers: constant time and no
// allocation (BIGNUMs cost an SSK+PVT about 2 %). Used only on candidates and on secrets loaded
// from storage; a rejected candidate reveals nothing about the accepted one.
template <size_t N>
bool InRangeLimbs(ByteView value, const Limbs<N>& order, unsigned min) {
  Limbs<N> v = LimbsFromBytes<N>(value);
  Limbs<N> lo{};
  lo[0] = min;
  const uint64_t in_range = LessThanMask(v, order) & ~LessThanMask(v, lo);
  SecureWipe(v.data(), sizeof v);
  return in_range != 0;
}

// The orders as montgomery.h keeps them in limbs already (converting the BIGNUM on every draw was
// about 1 % of an SSK+PVT).
bool InRange(ByteView value, const BIGNUM* order, unsigned min) {
  if (order == P256Order() && value.size() <= 32) return InRangeLimbs(value, P256OrderModulus().m, min);
  if (order == SakkeOrder() && value.size() <= 128) return InRangeLimbs(value, SakkeOrderModulus().m, min);
  return false;  // neither an ECCSI nor a SAKKE scalar
}

}  // namespace

Result<SecretBytes> DrawScalar(RandomSource& rng, const BIGNUM* order, size_t len, unsigned min) {
  const int bits = BN_num_bits(order);
  const int top_bits = bits - 8 * static_cast<int>(len - 1);  // bits used in the first octet
  const uint8_t mask = static_cast<uint8_t>((1u << top_bits) - 1);
  SecretBytes out(len);
  // Each try succeeds with probability above 1/2; 128 failures in a row means a broken source.
  for (int attempt = 0; attempt < 128; ++attempt) {
    MCX_RETURN_IF_ERROR(rng.Fill(out.span()));
    out.data()[0] &= mask;
    if (InRange(out.view(), order, min)) return out;
  }
  return Status::Unavailable("the random source keeps returning out-of-range values; it is not random");
}

Result<MasterSecrets> GenerateMasterSecrets(RandomSource& rng) {
  MasterSecrets s;
  Result<SecretBytes> z = DrawScalar(rng, SakkeOrder(), sakke::kScalarBytes, 2);
  if (!z.ok()) return z.status().Annotate("drawing the SAKKE master secret");
  Result<SecretBytes> ksak = DrawScalar(rng, P256Order(), kP256ScalarBytes, 1);
  if (!ksak.ok()) return ksak.status().Annotate("drawing the ECCSI KSAK");
  s.z = std::move(z).value();
  s.ksak = std::move(ksak).value();
  return s;
}

Result<KmsPublicKeys> DerivePublicKeys(const MasterSecrets& secrets, const SakkeKernel& sakke,
                                       const EccsiKernel& eccsi) {
  if (secrets.z.size() != sakke::kScalarBytes || !InRange(secrets.z.view(), SakkeOrder(), 2)) {
    return Status::DataLoss("the SAKKE master secret is not a 128-octet integer in [2, q-1]");
  }
  if (secrets.ksak.size() != kP256ScalarBytes || !InRange(secrets.ksak.view(), P256Order(), 1)) {
    return Status::DataLoss("the ECCSI KSAK is not a 32-octet integer in [1, q-1]");
  }
  KmsPublicKeys pub;
  MCX_RETURN_IF_ERROR(sakke.MultiplyGenerator(secrets.z, pub.z_pub));
  MCX_RETURN_IF_ERROR(eccsi.MultiplyGenerator(secrets.ksak, pub.kpak));
  return pub;
}

}  // namespace mcx
