// RAII owners for the OpenSSL objects mcx-kms uses, one deleter each.
//
// Contract: every owner frees with the variant that clears memory where the object may hold a
// secret (BN_clear_free, EC_POINT_clear_free, EVP_CIPHER_CTX_free, which cleanses its key
// schedule). Nothing else in the tree declares an OpenSSL deleter.
#pragma once

#include <memory>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

namespace mcx::ossl {

struct BnFree { void operator()(BIGNUM* b) const { BN_clear_free(b); } };
struct BnCtxFree { void operator()(BN_CTX* c) const { BN_CTX_free(c); } };
struct PointFree { void operator()(EC_POINT* p) const { EC_POINT_clear_free(p); } };
struct GroupFree { void operator()(EC_GROUP* g) const { EC_GROUP_free(g); } };
struct MontFree { void operator()(BN_MONT_CTX* m) const { BN_MONT_CTX_free(m); } };
struct MdCtxFree { void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); } };
struct CipherCtxFree { void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); } };
struct PkeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
struct PkeyCtxFree { void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); } };
struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
struct EcdsaSigFree { void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); } };

using Bn = std::unique_ptr<BIGNUM, BnFree>;
using BnCtx = std::unique_ptr<BN_CTX, BnCtxFree>;
using Point = std::unique_ptr<EC_POINT, PointFree>;
using Group = std::unique_ptr<EC_GROUP, GroupFree>;
using Mont = std::unique_ptr<BN_MONT_CTX, MontFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using Bio = std::unique_ptr<BIO, BioFree>;
using EcdsaSig = std::unique_ptr<ECDSA_SIG, EcdsaSigFree>;

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
