#include "engine/math/curves.h"

#include <openssl/obj_mac.h>

namespace mcx {
namespace {

struct SakkeCurve {
  ossl::Group group;
  ossl::Bn q;
  SakkeCurve() {
    ossl::BnCtx ctx(BN_CTX_new());
    ossl::Bn p = ossl::BnFromHex(sakke::kP);
    q = ossl::BnFromHex(sakke::kQ);
    ossl::Bn a = ossl::NewBn(), b = ossl::NewBn(), cofactor = ossl::NewBn();
    BN_sub(a.get(), p.get(), BN_value_one());  // a = -3 mod p
    BN_sub_word(a.get(), 2);
    BN_zero(b.get());
    BN_set_word(cofactor.get(), 4);  // #E(F_p) = p + 1 = 4q
    group.reset(EC_GROUP_new_curve_GFp(p.get(), a.get(), b.get(), ctx.get()));
    ossl::Bn px = ossl::BnFromHex(sakke::kPx), py = ossl::BnFromHex(sakke::kPy);
    ossl::Point gen(EC_POINT_new(group.get()));
    EC_POINT_set_affine_coordinates(group.get(), gen.get(), px.get(), py.get(), ctx.get());
    EC_GROUP_set_generator(group.get(), gen.get(), q.get(), cofactor.get());
  }
};

const SakkeCurve& Sakke() {
  static const SakkeCurve curve;
  return curve;
}

struct P256Curve {
  ossl::Group group{EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)};
};

const P256Curve& P256() {
  static const P256Curve curve;
  return curve;
}

}  // namespace

const EC_GROUP* SakkeGroup() { return Sakke().group.get(); }
const EC_GROUP* P256Group() { return P256().group.get(); }
const BIGNUM* SakkeOrder() { return Sakke().q.get(); }
const BIGNUM* P256Order() { return EC_GROUP_get0_order(P256Group()); }

Result<ossl::Point> DecodePoint(const EC_GROUP* group, ByteView encoded, const char* what) {
  const size_t field = (static_cast<size_t>(EC_GROUP_get_degree(group)) + 7) / 8;
  if (encoded.size() != 1 + 2 * field || encoded[0] != 0x04) {
    return Status::InvalidArgument(std::string(what) + " is not an uncompressed point of " +
                                   std::to_string(1 + 2 * field) + " octets starting 04");
  }
  ossl::BnCtx ctx(BN_CTX_new());
  ossl::Point pt(EC_POINT_new(group));
  if (!pt || EC_POINT_oct2point(group, pt.get(), encoded.data(), encoded.size(), ctx.get()) != 1) {
    return Status::InvalidArgument(std::string(what) + " is not a point on the curve");
  }
  if (EC_POINT_is_at_infinity(group, pt.get())) {
    return Status::InvalidArgument(std::string(what) + " is the point at infinity");
  }
  return pt;
}

Status MultiplyGeneratorWithOpenSsl(const EC_GROUP* group, ByteView k, std::span<uint8_t> out) {
  ossl::BnCtx ctx(BN_CTX_new());
  ossl::Bn scalar = ossl::NewSecretBn();
  if (scalar) BN_bin2bn(k.data(), static_cast<int>(k.size()), scalar.get());
  ossl::Point r(EC_POINT_new(group));
  if (!ctx || !scalar || !r || EC_POINT_mul(group, r.get(), scalar.get(), nullptr, nullptr, ctx.get()) != 1) {
    return Status::Internal("scalar multiplication failed in OpenSSL");
  }
  return EncodePoint(group, r.get(), out);
}

Status EncodePoint(const EC_GROUP* group, const EC_POINT* point, std::span<uint8_t> out) {
  if (EC_POINT_is_at_infinity(group, point)) return Status::Internal("cannot encode the point at infinity");
  ossl::BnCtx ctx(BN_CTX_new());
  size_t n = EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, out.data(), out.size(), ctx.get());
  if (n != out.size()) return Status::Internal("point encoding has an unexpected length");
  return Status::Ok();
}

}  // namespace mcx
