// libFuzzer target: access tokens (api AccessTokenVerifier::Lookup and Verify) against a fixed
// trusted key, a test IdMS P-256 key made once per process.
// The first byte picks what the rest is:
//   even: a token as sent after "Bearer " (header, claims and signature all under the fuzzer's
//         control; a forged signature never verifies, so this reaches the JWS parsing);
//   odd:  a claims document, which the harness signs with the trusted key, so that the claims
//         checks (iss, aud, scope/scp, exp, nbf, the identity claim) see arbitrary JSON.
// Beyond "no crash": a token accepted carries a non-empty identity and expires after "now", and
// the verdict (and message) of our ES256 verifier (engine/math/p256_verify.h) equals that of the
// same key left to cjose, the route ES256 took before it (but for signatures longer than 64
// octets, which cjose truncated and ours refuses).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "api/access_token.h"
#include "base/env.h"
#include "bench/idms/test_idms.h"
#include "tests/fuzz/scratch_file.h"

namespace {

constexpr int64_t kNow = 1800000000;  // 2027-01-15; the seeds' exp/nbf are around it

struct Harness {
  mcx::fuzz::ScratchFile key_dir{"idms"};
  std::string private_pem;
  std::unique_ptr<mcx::api::AccessTokenVerifier> verifier;
  std::unique_ptr<mcx::api::AccessTokenVerifier> cjose_verifier;  // the same key without es256

  Harness() {
    if (!mcx::api::GenerateTestIdmsKey(key_dir.path().string()).ok()) std::abort();
    mcx::Result<mcx::Bytes> pem = mcx::Env::Default().ReadFile(key_dir.path() / mcx::api::kTestIdmsKeyFile);
    if (!pem.ok()) std::abort();
    private_pem.assign(pem->begin(), pem->end());
    mcx::Result<std::vector<mcx::api::TrustedKey>> keys =
        mcx::api::LoadTrustedKeys((key_dir.path() / mcx::api::kTestIdmsPublicKeyFile).string());
    if (!keys.ok()) std::abort();
    mcx::api::AccessTokenPolicy policy;
    policy.issuer = mcx::api::kTestIdmsIssuer;
    policy.audience = mcx::api::kDefaultAudience;
    policy.cache_capacity = 64;  // small, so that eviction runs too
    std::vector<mcx::api::TrustedKey> cjose_keys = *keys;
    for (mcx::api::TrustedKey& k : cjose_keys) {
      if (k.es256 == nullptr) std::abort();  // LoadTrustedKeys prepares ES256 keys
      k.es256 = nullptr;
    }
    verifier = std::make_unique<mcx::api::AccessTokenVerifier>(std::move(*keys), policy);
    cjose_verifier = std::make_unique<mcx::api::AccessTokenVerifier>(std::move(cjose_keys), policy);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness harness;
  Harness* h = &harness;
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string token;
  if ((data[0] & 1) == 0) {
    token.assign(rest);
  } else {
    mcx::Result<std::string> signed_token = mcx::api::SignTestJwt(h->private_pem, rest);
    if (!signed_token.ok()) return 0;
    token = std::move(*signed_token);
  }
  (void)h->verifier->Lookup(token, kNow);
  mcx::Result<mcx::api::VerifiedToken> v = h->verifier->Verify(token, kNow);
  if (v.ok() && (v->identity.empty() || v->expires_at <= kNow - h->verifier->policy().clock_skew_seconds)) {
    std::abort();
  }
  mcx::Result<mcx::api::VerifiedToken> c = h->cjose_verifier->Verify(token, kNow);
  if (v.ok() != c.ok() || v.status().ToString() != c.status().ToString()) {
    // The one known difference: cjose reads the first 64 octets of a longer ES256 signature and
    // ignores the rest; ours refuses any signature that is not exactly 64 octets.
    const mcx::Result<std::string> sig = mcx::api::Base64UrlDecode(std::string_view(token).substr(token.rfind('.') + 1));
    if (!(c.ok() && !v.ok() && sig.ok() && sig->size() > 64)) std::abort();
  }
  return 0;
}
