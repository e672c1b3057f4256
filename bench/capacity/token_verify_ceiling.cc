#include "bench/capacity/token_verify_ceiling.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "base/cpu_count.h"
#include "base/openssl_handles.h"

namespace mcx::capacity {
namespace {

// The signing input of a typical access token: a JOSE header and claims, base64url, ~400 octets.
const std::string kSigningInput(400, 'e');

Result<double> VerificationsPerSecond(EVP_PKEY* key, double seconds) {
  ossl::MdCtx sign_ctx(EVP_MD_CTX_new());
  size_t len = 0;
  const auto* input = reinterpret_cast<const unsigned char*>(kSigningInput.data());
  if (!sign_ctx || EVP_DigestSignInit(sign_ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(sign_ctx.get(), nullptr, &len, input, kSigningInput.size()) != 1) {
    return Status::Internal("token verification ceiling: signing failed");
  }
  std::vector<unsigned char> sig(len);
  if (EVP_DigestSign(sign_ctx.get(), sig.data(), &len, input, kSigningInput.size()) != 1) {
    return Status::Internal("token verification ceiling: signing failed");
  }
  sig.resize(len);
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto until = start + std::chrono::duration<double>(seconds);
  uint64_t n = 0;
  auto now = start;
  do {
    // A verifier starts from the key each time, as the KMS's does per token.
    ossl::MdCtx ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
        EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), input, kSigningInput.size()) != 1) {
      return Status::Internal("token verification ceiling: a good signature did not verify");
    }
    ++n;
    if (n % 16 == 0) now = Clock::now();
  } while (now < until);
  return static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

Result<TokenVerifyCeiling> MeasureTokenVerifyCeiling(double seconds_each) {
  ossl::Pkey ec(EVP_EC_gen("P-256"));
  ossl::Pkey rsa(EVP_RSA_gen(2048));
  if (!ec || !rsa) return Status::Internal("token verification ceiling: key generation failed");
  TokenVerifyCeiling c;
  Result<double> es = VerificationsPerSecond(ec.get(), seconds_each);
  if (!es.ok()) return es.status();
  Result<double> rs = VerificationsPerSecond(rsa.get(), seconds_each);
  if (!rs.ok()) return rs.status();
  c.es256_per_core = *es;
  c.rs256_per_core = *rs;
  c.cores = CoreCount();
  return c;
}

}  // namespace mcx::capacity
