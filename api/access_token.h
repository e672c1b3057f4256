// AccessTokenVerifier: checks the `Authorization: Bearer <JWT>` access token that the IdMS issued
// to an MC user (TS 33.180 5.1, the OAuth 2.0 access token presented at the KMS).
//
// Contract: Verify() accepts a compact JWS signed with ES256 (raw r||s, RFC 7518 3.4) or RS256
// by one of the trusted IdMS public keys (a PEM file with one or more public keys, or a JWKS
// file), whose claims carry the configured issuer ("iss"), the audience ("aud", a string or an
// array), a scope ("scope", space separated, or "scp") that includes the key management service,
// "exp" in the future and "nbf" (when present) in the past, both within the allowed clock skew,
// and the MC user identity claim (default "mcptt_id"). It returns that identity.
// Errors: InvalidArgument for a malformed, unsigned, expired or untrusted token (the caller
// answers 401); PermissionDenied when the token is valid but lacks the scope (403). Messages say
// what was wrong and never echo the token.
// Verified tokens are cached (keyed by their SHA-256, until the sooner of "exp" and the cache
// lifetime), so repeated requests with one token cost a hash and a lookup. Thread-safe.
//
// Test-only: GenerateTestIdmsKey() and MintTestToken() stand in for an IdMS in demos and tests.
// A KMS trusts the test key only when it is configured with it (`init --demo`, `serve --demo`).
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace mcx::api {

inline constexpr const char* kKeyManagementScope = "3gpp:mc:ptt_key_management_service";
inline constexpr const char* kDefaultIdentityClaim = "mcptt_id";
inline constexpr const char* kTestIdmsIssuer = "urn:mcx-kms:test-idms";
inline constexpr const char* kDefaultAudience = "mcx-kms";
inline constexpr const char* kTestIdmsKeyFile = "idms-test-key.pem";
inline constexpr const char* kTestIdmsPublicKeyFile = "idms-test-public.pem";

struct AccessTokenPolicy {
  std::string issuer;                                 // required "iss"
  std::string audience;                               // required in "aud"
  std::string required_scope = kKeyManagementScope;   // required in "scope" / "scp"
  std::string identity_claim = kDefaultIdentityClaim; // the MC user identity (a URI)
  int64_t clock_skew_seconds = 60;                    // tolerance on exp and nbf
  int64_t cache_seconds = 60;                         // how long a verified token is remembered
  size_t cache_capacity = 1 << 16;                    // verified tokens remembered at most
};

struct VerifiedToken {
  std::string identity;    // the identity claim's value
  int64_t expires_at = 0;  // "exp", Unix seconds
};

using EvpPkeyPtr = std::shared_ptr<EVP_PKEY>;

struct TrustedKey {
  std::string kid;  // empty when the file gave none
  EvpPkeyPtr key;   // an EC P-256 key (ES256) or an RSA key of 2048 bits or more (RS256)
};

// Reads the IdMS's public keys: a JWKS document ({"keys": [...]}, kty EC/P-256 or RSA) or a PEM
// file with one or more public keys (or certificates).
Result<std::vector<TrustedKey>> LoadTrustedKeys(const std::string& path);

class AccessTokenVerifier {
 public:
  AccessTokenVerifier(std::vector<TrustedKey> keys, AccessTokenPolicy policy);

  const AccessTokenPolicy& policy() const { return policy_; }

  // Verifies `token` (the text after "Bearer ") at `now_unix`.
  Result<VerifiedToken> Verify(std::string_view token, int64_t now_unix);

 private:
  Result<VerifiedToken> VerifyUncached(std::string_view token, int64_t now_unix) const;
  struct CacheEntry {
    VerifiedToken token;
    int64_t remember_until = 0;
  };
  struct DigestHash {
    size_t operator()(const std::array<uint8_t, 32>& d) const;
  };
  static constexpr size_t kShards = 16;
  struct CacheShard {
    std::mutex mu;
    std::unordered_map<std::array<uint8_t, 32>, CacheEntry, DigestHash> entries;
  };

  std::vector<TrustedKey> keys_;
  AccessTokenPolicy policy_;
  CacheShard cache_[kShards];
};

// --- Test IdMS (test-only: never trust these keys in production) ---

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

// Signs an access token with the private key in `private_key_pem_file`: ES256 for a P-256 key,
// RS256 for an RSA key.
Result<std::string> MintTestToken(const std::string& private_key_pem_file, const TestTokenClaims& claims,
                                  int64_t now_unix);
// Signs arbitrary claims (JSON text) with a PEM private key, for tests of malformed claims.
Result<std::string> SignTestJwt(const std::string& private_key_pem, std::string_view claims_json,
                                std::string_view kid = "");

// base64url without padding (RFC 7515 2).
std::string Base64UrlEncode(std::string_view bytes);
Result<std::string> Base64UrlDecode(std::string_view text);

}  // namespace mcx::api
