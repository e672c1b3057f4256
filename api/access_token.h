// AccessTokenVerifier: checks the `Authorization: Bearer <JWT>` access token that the IdMS issued
// to an MC user (TS 33.180 5.1, the OAuth 2.0 access token presented at the KMS).
//
// Contract: Verify() accepts a compact JWS signed with ES256 (raw r||s, RFC 7518 3.4) or RS256
// by one of the trusted IdMS public keys (a PEM file with one or more public keys, or a JWKS
// file), whose claims carry the configured issuer ("iss"), the audience ("aud", a string or an
// array), a scope ("scope", space separated, or "scp") that includes the key management service,
// "exp" in the future and "nbf" (when present) in the past, both within the allowed clock skew,
// and the MC user identity claim (default "mcptt_id"). It returns that identity.
// The token never chooses its algorithm: each trusted key admits one ("alg" pinned to the key's
// type), so "none", HS* and an RS256 header against an EC key are all refused.
// Errors: InvalidArgument for a malformed, unsigned, expired or untrusted token (the caller
// answers 401); PermissionDenied when the token is valid but lacks the scope (403). Messages say
// what was wrong and never echo the token.
// A token must be spelled canonically: base64url without '=' padding and with the unused low
// bits of each part zero (RFC 7515 2), so one token has one text; a JOSE header with "crit" is
// refused (RFC 7515 4.1.11: no extension is understood here).
// Verified tokens are cached, keyed by the SHA-256 of the token's text (one text per header,
// payload and signature, as only the canonical spelling is accepted), until the sooner of "exp"
// and the cache lifetime: Lookup() answers from that cache for a scan of the text, a hash and a
// lookup, cheap enough for an I/O thread; Verify() also decodes, checks signatures and belongs
// on a worker. Thread-safe.
//
// JWK import and RS256 are cjose's. ES256 signatures are checked by our own P-256 verifier
// (engine/math/p256_verify.h, a precomputed table of the key built by LoadTrustedKeys; about 4x
// OpenSSL's rate, docs/arithmetic.md): the signature must decode to exactly 64 octets r || s with r
// and s in [1, n-1], over SHA-256 of the token up to its second '.', and the JOSE header's "alg"
// and "kid" are read as cjose reads them (jansson), so an ES256 token meets the same checks as
// before without passing through cjose_jws_import. The claims are read with nlohmann_json.
// Minting test tokens is not the server's business: see bench/idms/test_idms.h.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"

typedef struct _cjose_jwk_int cjose_jwk_t;  // <cjose/jwk.h>

namespace mcx {
class P256VerifyingKey;  // engine/math/p256_verify.h
}

namespace mcx::api {

inline constexpr const char* kKeyManagementScope = "3gpp:mc:ptt_key_management_service";
inline constexpr const char* kDefaultIdentityClaim = "mcptt_id";
inline constexpr const char* kTestIdmsIssuer = "urn:mcx-kms:test-idms";
inline constexpr const char* kDefaultAudience = "mcx-kms";

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

// The one JWS algorithm a trusted key admits.
enum class TokenAlg { kES256, kRS256 };

struct TrustedKey {
  std::string kid;                   // empty when the file gave none
  TokenAlg alg = TokenAlg::kES256;   // from the key's type, never from a token
  std::shared_ptr<cjose_jwk_t> jwk;  // an EC P-256 key (ES256) or an RSA key of 2048 bits or more (RS256)
  // ES256: the same key, prepared for our verifier (LoadTrustedKeys builds it; without it, cjose verifies).
  std::shared_ptr<const P256VerifyingKey> es256;
};

// Reads the IdMS's public keys: a JWKS document ({"keys": [...]}, kty EC/P-256 or RSA) or a PEM
// file with one or more public keys (or certificates).
Result<std::vector<TrustedKey>> LoadTrustedKeys(const std::string& path);

class AccessTokenVerifier {
 public:
  AccessTokenVerifier(std::vector<TrustedKey> keys, AccessTokenPolicy policy);

  const AccessTokenPolicy& policy() const { return policy_; }

  // The cheap half, for an I/O thread: the identity of a token verified before and still
  // remembered; std::nullopt when the token needs Verify(); an error for a token refused without
  // looking further (empty, too long).
  Result<std::optional<VerifiedToken>> Lookup(std::string_view token, int64_t now_unix);

  // Verifies `token` (the text after "Bearer ") at `now_unix`: from the cache, else by its
  // signature and claims (then remembered). May take a millisecond or more: call it on a worker.
  Result<VerifiedToken> Verify(std::string_view token, int64_t now_unix);

 private:
  // signing_digest: SHA-256 of the token up to its second '.' (what an ES256 signature covers).
  Result<VerifiedToken> VerifyUncached(std::string_view token, const std::string& header_json,
                                       const std::string& payload, const std::string& signature,
                                       const std::array<uint8_t, 32>& signing_digest, int64_t now_unix) const;
  std::optional<VerifiedToken> Cached(const std::array<uint8_t, 32>& digest, int64_t now_unix);
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

}  // namespace mcx::api
