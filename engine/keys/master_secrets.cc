#include "engine/keys/master_secrets.h"

#include <algorithm>

#include "base/secret.h"
#include "engine/math/montgomery.h"

namespace mcx {
namespace {

// An order as limbs, with its size: converted from the BIGNUM once per order, not once per draw
// (DrawScalar runs for every SSK; BN_bn2binpad and BN_num_bits there cost about 1 % of one).
struct OrderLimbs {
  Limbs<16> limbs{};  // least significant first: an order of up to 256 bits is limbs[0..3]
  int bits = 0;
  int bytes = 0;
};

OrderLimbs Convert(const BIGNUM* order) {
  OrderLimbs o;
  o.bits = BN_num_bits(order);
  o.bytes = BN_num_bytes(order);
  uint8_t be[8 * 16];
  if (o.bytes <= static_cast<int>(sizeof be) && BN_bn2binpad(order, be, sizeof be) >= 0) o.limbs = LimbsFromBytes<16>(be);
  return o;
}

const OrderLimbs& LimbsOf(const BIGNUM* order) {
  static const OrderLimbs p256 = Convert(P256Order()), sakke = Convert(SakkeOrder());
  if (order == P256Order()) return p256;
  if (order == SakkeOrder()) return sakke;
  thread_local OrderLimbs other;  // any other order (none today): converted on each call
  other = Convert(order);
  return other;
}

// Whether min <= value < order, for a secret value, read as N-limb integers: constant time and no
// allocation (BIGNUMs cost an SSK+PVT about 2 %). Used only on candidates and on secrets loaded
// from storage; a rejected candidate reveals nothing about the accepted one.
template <size_t N>
bool InRangeLimbs(ByteView value, const OrderLimbs& order, unsigned min) {
  Limbs<N> o;
  std::copy(order.limbs.begin(), order.limbs.begin() + N, o.begin());
  Limbs<N> v = LimbsFromBytes<N>(value);
  Limbs<N> lo{};
  lo[0] = min;
  const uint64_t in_range = LessThanMask(v, o) & ~LessThanMask(v, lo);
  SecureWipe(v.data(), sizeof v);
  return in_range != 0;
}

bool InRange(ByteView value, const OrderLimbs& order, unsigned min) {
  if (value.size() <= 32 && order.bytes <= 32) return InRangeLimbs<4>(value, order, min);
  if (value.size() <= 128 && order.bytes <= 128) return InRangeLimbs<16>(value, order, min);
  return false;  // neither an ECCSI nor a SAKKE scalar
}

bool InRange(ByteView value, const BIGNUM* order, unsigned min) { return InRange(value, LimbsOf(order), min); }

}  // namespace

Result<SecretBytes> DrawScalar(RandomSource& rng, const BIGNUM* order, size_t len, unsigned min) {
  const OrderLimbs& o = LimbsOf(order);
  const int top_bits = o.bits - 8 * static_cast<int>(len - 1);  // bits used in the first octet
  const uint8_t mask = static_cast<uint8_t>((1u << top_bits) - 1);
  SecretBytes out(len);
  // Each try succeeds with probability above 1/2; 128 failures in a row means a broken source.
  for (int attempt = 0; attempt < 128; ++attempt) {
    MCX_RETURN_IF_ERROR(rng.Fill(out.span()));
    out.data()[0] &= mask;
    if (InRange(out.view(), o, min)) return out;
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
