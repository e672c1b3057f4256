#include "engine/keys/client_check.h"

#include "base/sha256.h"
#include "engine/math/tate_pairing.h"

namespace mcx {

Status CheckReceiverSecretKey(const SakkePoint& z_pub, ByteView id, ByteView rsk) {
  const EC_GROUP* group = SakkeGroup();
  Result<ossl::Point> rsk_pt = DecodePoint(group, rsk, "RSK");
  if (!rsk_pt.ok()) return rsk_pt.status();
  Result<ossl::Point> z_pt = DecodePoint(group, z_pub, "the KMS public key Z");
  if (!z_pt.ok()) return z_pt.status();

  ossl::BnCtx ctx(BN_CTX_new());
  ossl::Bn a = ossl::NewBn();
  BN_bin2bn(id.data(), static_cast<int>(id.size()), a.get());
  // R = [a]P + Z
  ossl::Point r(EC_POINT_new(group));
  if (EC_POINT_mul(group, r.get(), a.get(), z_pt->get(), BN_value_one(), ctx.get()) != 1) {
    return Status::Internal("point arithmetic failed in OpenSSL");
  }
  if (EC_POINT_is_at_infinity(group, r.get())) {
    return Status::InvalidArgument("[a]P + Z is the point at infinity: this identifier cannot be keyed");
  }
  Result<SakkeFieldElement> w = SakkePairing(r.get(), rsk_pt->get());
  if (!w.ok()) return w.status();
  ossl::Bn g = ossl::BnFromHex(sakke::kG);
  SakkeFieldElement g_bytes;
  BN_bn2binpad(g.get(), g_bytes.data(), static_cast<int>(g_bytes.size()));
  if (*w != g_bytes) {
    return Status::InvalidArgument("RSK check failed: <[a]P + Z, RSK> is not g (RFC 6508 6.1.2)");
  }
  return Status::Ok();
}

Status CheckSigningKey(const P256Point& kpak, ByteView id, ByteView ssk, ByteView pvt) {
  const EC_GROUP* group = P256Group();
  Result<ossl::Point> pvt_pt = DecodePoint(group, pvt, "PVT");
  if (!pvt_pt.ok()) return pvt_pt.status();
  Result<ossl::Point> kpak_pt = DecodePoint(group, kpak, "KPAK");
  if (!kpak_pt.ok()) return kpak_pt.status();
  if (ssk.size() != kP256ScalarBytes) return Status::InvalidArgument("SSK is not 32 octets");

  P256Point g_enc;
  MCX_RETURN_IF_ERROR(EncodePoint(group, EC_GROUP_get0_generator(group), g_enc));
  const Sha256Digest hs = Sha256({g_enc, kpak, id, pvt});

  ossl::BnCtx ctx(BN_CTX_new());
  ossl::Bn s = ossl::NewBn(), h = ossl::NewBn();
  BN_bin2bn(ssk.data(), static_cast<int>(ssk.size()), s.get());
  BN_bin2bn(hs.data(), static_cast<int>(hs.size()), h.get());
  if (BN_is_zero(s.get()) || BN_cmp(s.get(), P256Order()) >= 0) {
    return Status::InvalidArgument("SSK check failed: SSK is not in [1, q-1]");
  }
  // lhs = [SSK]G, rhs = KPAK + [HS]PVT
  ossl::Point lhs(EC_POINT_new(group)), rhs(EC_POINT_new(group));
  if (EC_POINT_mul(group, lhs.get(), s.get(), nullptr, nullptr, ctx.get()) != 1 ||
      EC_POINT_mul(group, rhs.get(), nullptr, pvt_pt->get(), h.get(), ctx.get()) != 1 ||
      EC_POINT_add(group, rhs.get(), rhs.get(), kpak_pt->get(), ctx.get()) != 1) {
    return Status::Internal("point arithmetic failed in OpenSSL");
  }
  if (EC_POINT_cmp(group, lhs.get(), rhs.get(), ctx.get()) != 0) {
    return Status::InvalidArgument("SSK check failed: [SSK]G is not KPAK + [HS]PVT (RFC 6507 5.1.2)");
  }
  return Status::Ok();
}

Status CheckKeySet(const KmsPublicKeys& pub, const KeySet& ks) {
  MCX_RETURN_IF_ERROR(CheckReceiverSecretKey(pub.z_pub, ks.uid, ks.rsk.view())
                          .Annotate("key set of " + ks.user_uri + ", period " + std::to_string(ks.period.number)));
  return CheckSigningKey(pub.kpak, ks.uid, ks.ssk.view(), ks.pvt)
      .Annotate("key set of " + ks.user_uri + ", period " + std::to_string(ks.period.number));
}

}  // namespace mcx
