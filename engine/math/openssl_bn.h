// RAII owners for OpenSSL's BIGNUM and EC objects, for the generic (reference) arithmetic.
#pragma once

#include <memory>

#include <openssl/bn.h>
#include <openssl/ec.h>

namespace mcx::ossl {

struct BnFree { void operator()(BIGNUM* b) const { BN_clear_free(b); } };
struct BnCtxFree { void operator()(BN_CTX* c) const { BN_CTX_free(c); } };
struct PointFree { void operator()(EC_POINT* p) const { EC_POINT_clear_free(p); } };
struct GroupFree { void operator()(EC_GROUP* g) const { EC_GROUP_free(g); } };
struct MontFree { void operator()(BN_MONT_CTX* m) const { BN_MONT_CTX_free(m); } };

using Bn = std::unique_ptr<BIGNUM, BnFree>;
using BnCtx = std::unique_ptr<BN_CTX, BnCtxFree>;
using Point = std::unique_ptr<EC_POINT, PointFree>;
using Group = std::unique_ptr<EC_GROUP, GroupFree>;
using Mont = std::unique_ptr<BN_MONT_CTX, MontFree>;

inline Bn NewBn() { return Bn(BN_new()); }
// A BIGNUM flagged for OpenSSL's constant-time code paths (exponentiation, inversion).
inline Bn NewSecretBn() {
  Bn b(BN_new());
  if (b) BN_set_flags(b.get(), BN_FLG_CONSTTIME);
  return b;
}
inline Bn BnFromHex(const char* hex) {
  BIGNUM* b = nullptr;
  BN_hex2bn(&b, hex);
  return Bn(b);
}

}  // namespace mcx::ossl
