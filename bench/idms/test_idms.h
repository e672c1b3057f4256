// A test IdMS: a P-256 key pair on disk and access tokens signed with it, standing in for the
// identity management server in demos, benchmarks and tests. Test-only: a KMS trusts this key only
// when it is configured with it (`init --demo`, `serve --demo`), and the server's own code
// (mcx_api) holds no signing code at all; this library is linked by the CLI, the capacity bench
// and the tests.
//
// Tokens are compact JWS (ES256 for a P-256 key, RS256 for an RSA key) whose claims the
// AccessTokenVerifier (api/access_token.h) checks: iss, aud, scope, the identity claim, iat, nbf
// and exp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "api/access_token.h"
#include "base/status.h"

namespace mcx::api {

// The files of a test IdMS key pair in its directory.
inline constexpr const char* kTestIdmsKeyFile = "idms-test-key.pem";
inline constexpr const char* kTestIdmsPublicKeyFile = "idms-test-public.pem";

// Creates `dir` when missing and writes a fresh P-256 key pair: idms-test-key.pem (0600) and
// idms-test-public.pem. Keeps an existing pair (so tokens minted earlier stay valid).
Status GenerateTestIdmsKey(const std::string& dir);

struct TestTokenClaims {
  std::string user_uri;                              // the identity claim's value
  std::string issuer = kTestIdmsIssuer;
  std::string audience = kDefaultAudience;
  std::string scope = std::string("openid ") + kKeyManagementScope;
  std::string identity_claim = kDefaultIdentityClaim;
  int64_t lifetime_seconds = 3600;
  int64_t not_before_offset = 0;                     // nbf = now + offset
};

// Signs access tokens with one private key, read and parsed once: ES256 for a P-256 key, RS256
// for an RSA key. Mint() is thread-safe, so a population's tokens are minted on every core.
class TestTokenMinter {
 public:
  static Result<TestTokenMinter> Load(const std::string& private_key_pem_file);
  Result<std::string> Mint(const TestTokenClaims& claims, int64_t now_unix) const;

 private:
  struct Key;
  explicit TestTokenMinter(std::shared_ptr<const Key> key) : key_(std::move(key)) {}
  std::shared_ptr<const Key> key_;
};

// One token: TestTokenMinter::Load(file) then Mint (for many, keep the minter).
Result<std::string> MintTestToken(const std::string& private_key_pem_file, const TestTokenClaims& claims,
                                  int64_t now_unix);
// Signs arbitrary claims (JSON text) with a PEM private key, for tests of malformed claims;
// `extra_header_json`, a JSON object, adds its members to the JOSE header as written (e.g. "crit");
// a member it names replaces ours (alg, typ, kid).
Result<std::string> SignTestJwt(const std::string& private_key_pem, std::string_view claims_json,
                                std::string_view kid = "", std::string_view extra_header_json = "");

// base64url without padding (RFC 7515 2), for tests that build tokens by hand.
std::string Base64UrlEncode(std::string_view bytes);
Result<std::string> Base64UrlDecode(std::string_view text);

}  // namespace mcx::api
