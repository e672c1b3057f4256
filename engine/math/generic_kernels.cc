// The generic (reference) SAKKE and ECCSI kernels, on OpenSSL.
#include "engine/math/eccsi_kernel.h"
#include "engine/math/sakke_kernel.h"

namespace mcx {
namespace {

// Reads a secret big-endian buffer into a BIGNUM flagged constant-time.
ossl::Bn SecretToBn(ByteView bytes) {
  ossl::Bn b = ossl::NewSecretBn();
  BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), b.get());
  return b;
}

class GenericSakkeKernel final : public SakkeKernel {
 public:
  const char* Name() const override { return "generic (OpenSSL)"; }

  Status ReceiverSecretKey(ByteView a, const SecretBytes& z, SakkePoint& out) const override {
    ossl::BnCtx ctx(BN_CTX_new());
    const BIGNUM* q = SakkeOrder();
    ossl::Bn a_bn = ossl::NewBn();
    BN_bin2bn(a.data(), static_cast<int>(a.size()), a_bn.get());
    ossl::Bn s = SecretToBn(z.view());
    ossl::Bn inv = ossl::NewSecretBn();
    if (!ctx || BN_mod_add(s.get(), s.get(), a_bn.get(), q, ctx.get()) != 1) {
      return Status::Internal("modular addition failed in OpenSSL");
    }
    if (BN_is_zero(s.get())) {
      return Status::InvalidArgument(
          "this identifier cannot be keyed under this KMS's master secret (a + z = 0 mod q, a "
          "degenerate case of negligible probability): rotate the SAKKE master secret");
    }
    if (BN_mod_inverse(inv.get(), s.get(), q, ctx.get()) == nullptr) {
      return Status::Internal("modular inversion failed in OpenSSL");
    }
    uint8_t k[sakke::kScalarBytes];
    BN_bn2binpad(inv.get(), k, sizeof k);
    Status st = MultiplyGeneratorWithOpenSsl(SakkeGroup(), ByteView(k, sizeof k), out);
    SecureWipe(k, sizeof k);
    return st;
  }

  Status MultiplyGenerator(const SecretBytes& k, SakkePoint& out) const override {
    return MultiplyGeneratorWithOpenSsl(SakkeGroup(), k.view(), out);
  }
};

class GenericEccsiKernel final : public EccsiKernel {
 public:
  const char* Name() const override { return "generic (OpenSSL)"; }

  Status MultiplyGenerator(const SecretBytes& k, P256Point& out) const override {
    return MultiplyGeneratorWithOpenSsl(P256Group(), k.view(), out);
  }

  Status SigningKey(const SecretBytes& ksak, ByteView hs, const SecretBytes& v,
                    SecretBytes& ssk) const override {
    ossl::BnCtx ctx(BN_CTX_new());
    const BIGNUM* q = P256Order();
    ossl::Bn k = SecretToBn(ksak.view());
    ossl::Bn vv = SecretToBn(v.view());
    ossl::Bn h = ossl::NewBn();
    ossl::Bn r = ossl::NewSecretBn();
    BN_bin2bn(hs.data(), static_cast<int>(hs.size()), h.get());
    if (!ctx || BN_mod_mul(r.get(), h.get(), vv.get(), q, ctx.get()) != 1 ||
        BN_mod_add(r.get(), r.get(), k.get(), q, ctx.get()) != 1) {
      return Status::Internal("modular arithmetic failed in OpenSSL");
    }
    ssk = SecretBytes(kP256ScalarBytes);
    BN_bn2binpad(r.get(), ssk.data(), static_cast<int>(ssk.size()));
    return Status::Ok();
  }
};

}  // namespace

Status SakkeKernel::ReceiverSecretKeys(std::span<const ByteView> ids, const SecretBytes& z,
                                       std::span<SakkePoint> out) const {
  if (ids.size() != out.size()) return Status::Internal("ReceiverSecretKeys: ids and out differ in size");
  for (size_t i = 0; i < ids.size(); ++i) {
    Status st = ReceiverSecretKey(ids[i], z, out[i]);
    if (!st.ok()) return st.Annotate("identifier #" + std::to_string(i));
  }
  return Status::Ok();
}

std::unique_ptr<SakkeKernel> NewGenericSakkeKernel() { return std::make_unique<GenericSakkeKernel>(); }
std::unique_ptr<EccsiKernel> NewGenericEccsiKernel() { return std::make_unique<GenericEccsiKernel>(); }

}  // namespace mcx
