#include "api/access_token.h"

#include <cjose/header.h>
#include <cjose/jwk.h>
#include <cjose/jws.h>
#include <cjose/util.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <jansson.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/env.h"
#include "base/openssl_handles.h"
#include "base/sha256.h"
#include "engine/math/p256_verify.h"

namespace mcx::api {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxTokenBytes = 8192;

using BioPtr = ossl::Bio;
using PkeyPtr = ossl::Pkey;
struct JwsFree { void operator()(cjose_jws_t* j) const { cjose_jws_release(j); } };
using JwsPtr = std::unique_ptr<cjose_jws_t, JwsFree>;
struct JanssonFree { void operator()(json_t* j) const { json_decref(j); } };

std::shared_ptr<cjose_jwk_t> OwnJwk(cjose_jwk_t* k) {
  return std::shared_ptr<cjose_jwk_t>(k, [](cjose_jwk_t* p) { cjose_jwk_release(p); });
}

// Unpadded base64url (RFC 7515 2) that cjose's decoder can take: Debian's cjose 0.6 asserts,
// aborting the process, on a '=' inside a part or on a length of 4n+1 (found by
// tests/fuzz/jwks_fuzzer.cc; a token "h.eyJhIjoxf=Q.s" reached it from any client). So nothing
// else reaches cjose.
bool IsBase64UrlForCjose(std::string_view s) {
  if (s.size() % 4 == 1) return false;
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// A string member, or "" when it is missing or of another type (json::value() would throw).
std::string StringField(const json& obj, const char* name) {
  auto it = obj.find(name);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A numeric claim (NumericDate) as whole seconds, clamped; false when missing or not a number.
bool NumericField(const json& obj, const char* name, int64_t& out) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_number()) return false;
  if (it->is_number_float()) {
    const double d = it->get<double>();
    out = d > 9e18 ? INT64_MAX / 2 : d < -9e18 ? INT64_MIN / 2 : static_cast<int64_t>(d);
  } else if (it->is_number_unsigned()) {
    const uint64_t u = it->get<uint64_t>();
    out = u > static_cast<uint64_t>(INT64_MAX / 2) ? INT64_MAX / 2 : static_cast<int64_t>(u);
  } else {
    out = std::max<int64_t>(it->get<int64_t>(), INT64_MIN / 2);
  }
  return true;
}

const char* AlgName(TokenAlg alg) { return alg == TokenAlg::kES256 ? "ES256" : "RS256"; }

// The one algorithm a key admits, or an error for a key this verifier does not accept.
Result<TokenAlg> AlgorithmOf(const cjose_jwk_t* jwk) {
  cjose_err err;
  switch (cjose_jwk_get_kty(jwk, &err)) {
    case CJOSE_JWK_KTY_EC:
      if (cjose_jwk_EC_get_curve(jwk, &err) != CJOSE_JWK_EC_P_256) {
        return Status::InvalidArgument("EC keys must be on P-256 (ES256)");
      }
      return TokenAlg::kES256;
    case CJOSE_JWK_KTY_RSA:
      if (cjose_jwk_get_keysize(jwk, &err) < 2048) return Status::InvalidArgument("RSA keys must have at least 2048 bits");
      return TokenAlg::kRS256;
    default:
      return Status::InvalidArgument("only EC P-256 (ES256) and RSA (RS256) keys are supported");
  }
}

bool DecodeCanonicalBase64Url(std::string_view text, std::string& out);

// Our verifier for an ES256 key (engine/math/p256_verify.h), from the public JWK cjose holds, so
// that PEM and JWKS keys take one route: x and y as cjose re-encodes them (at most 32 octets each).
Result<std::shared_ptr<const P256VerifyingKey>> Es256Verifier(const cjose_jwk_t* jwk) {
  cjose_err err;
  char* text = cjose_jwk_to_json(jwk, /*priv=*/false, &err);
  if (text == nullptr) return Status::InvalidArgument("the EC key cannot be exported from cjose");
  const json pub = json::parse(text, nullptr, /*allow_exceptions=*/false);
  cjose_get_dealloc()(text);
  std::array<uint8_t, 32> xy[2] = {};
  const char* names[2] = {"x", "y"};
  for (int i = 0; i < 2; ++i) {
    std::string octets;
    if (!pub.is_object() || !DecodeCanonicalBase64Url(StringField(pub, names[i]), octets) || octets.size() > 32) {
      return Status::InvalidArgument("the EC key's coordinates are not 32-octet values");
    }
    std::copy(octets.begin(), octets.end(), xy[i].begin() + (32 - octets.size()));
  }
  Result<std::shared_ptr<const P256VerifyingKey>> key = P256VerifyingKey::FromAffine(xy[0], xy[1]);
  if (!key.ok()) return key.status();
  return std::move(key).value();
}

Result<TrustedKey> Trust(cjose_jwk_t* raw, std::string kid) {
  std::shared_ptr<cjose_jwk_t> jwk = OwnJwk(raw);
  Result<TokenAlg> alg = AlgorithmOf(jwk.get());
  if (!alg.ok()) return alg.status();
  TrustedKey key{std::move(kid), *alg, std::move(jwk), nullptr};
  if (key.alg == TokenAlg::kES256) {
    Result<std::shared_ptr<const P256VerifyingKey>> es256 = Es256Verifier(key.jwk.get());
    if (!es256.ok()) return es256.status();
    key.es256 = std::move(es256).value();
  }
  return key;
}

Result<std::string> ReadFile(const std::string& path) {
  Result<Bytes> b = Env::Default().ReadFile(path);
  if (!b.ok()) return b.status();
  return std::string(b->begin(), b->end());
}

// A big-endian octet string of one BIGNUM parameter of `key`.
std::string BnParam(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) return "";
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

// A public key read from PEM, in the form cjose verifies with.
Result<TrustedKey> TrustPublicKey(EVP_PKEY* key) {
  cjose_err err;
  cjose_jwk_t* jwk = nullptr;
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
    char group[64] = {};
    size_t group_len = 0;
    unsigned char pub[65];
    size_t pub_len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &group_len) != 1 ||
        std::strcmp(group, "prime256v1") != 0 ||
        EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub, &pub_len) != 1 ||
        pub_len != 65 || pub[0] != 0x04) {
      ERR_clear_error();
      return Status::InvalidArgument("EC keys must be on P-256 (ES256)");
    }
    cjose_jwk_ec_keyspec spec{};
    spec.crv = CJOSE_JWK_EC_P_256;
    spec.x = pub + 1;
    spec.xlen = 32;
    spec.y = pub + 33;
    spec.ylen = 32;
    jwk = cjose_jwk_create_EC_spec(&spec, &err);
  } else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
    std::string n = BnParam(key, OSSL_PKEY_PARAM_RSA_N), e = BnParam(key, OSSL_PKEY_PARAM_RSA_E);
    cjose_jwk_rsa_keyspec spec{};
    spec.n = reinterpret_cast<uint8_t*>(n.data());
    spec.nlen = n.size();
    spec.e = reinterpret_cast<uint8_t*>(e.data());
    spec.elen = e.size();
    if (!n.empty() && !e.empty()) jwk = cjose_jwk_create_RSA_spec(&spec, &err);
  } else {
    return Status::InvalidArgument("only EC P-256 (ES256) and RSA (RS256) keys are supported");
  }
  ERR_clear_error();
  if (jwk == nullptr) return Status::InvalidArgument("the public key cannot be used for JWS verification");
  return Trust(jwk, "");
}

Result<std::vector<TrustedKey>> KeysFromJwks(const std::string& text, const std::string& path) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array()) {
    return Status::InvalidArgument(path + " is not a JWKS document: expected {\"keys\": [...]}");
  }
  std::vector<TrustedKey> out;
  for (const json& entry : doc["keys"]) {
    if (!entry.is_object()) return Status::InvalidArgument(path + ": every entry of \"keys\" must be an object");
    if (entry.contains("use") && entry["use"] != "sig") continue;  // encryption keys are not ours to use
    const std::string kty = StringField(entry, "kty");
    if (kty != "EC" && kty != "RSA") {
      return Status::InvalidArgument(path + ": JWK kty must be EC or RSA, got \"" + kty + "\"");
    }
    if (kty == "EC" && StringField(entry, "crv") != "P-256") {
      return Status::InvalidArgument(path + ": EC JWKs must use crv P-256");
    }
    // Only the public members go to cjose: a stray "d" must not turn a trusted key into a private one.
    json pub = {{"kty", kty}};
    for (const char* m : {"crv", "x", "y", "n", "e"}) {
      if (entry.contains(m)) pub[m] = entry[m];
    }
    for (const char* m : {"x", "y", "n", "e"}) {
      if (pub.contains(m) && (!pub[m].is_string() || !IsBase64UrlForCjose(pub[m].get<std::string>()))) {
        return Status::InvalidArgument(path + ": JWK member \"" + m + "\" is not unpadded base64url");
      }
    }
    const std::string jwk_text = pub.dump();
    cjose_err err;
    cjose_jwk_t* jwk = cjose_jwk_import(jwk_text.data(), jwk_text.size(), &err);
    ERR_clear_error();
    if (jwk == nullptr) {
      return Status::InvalidArgument(path + ": a " + kty + " JWK does not import (" + err.message +
                                     "): check its members");
    }
    Result<TrustedKey> key = Trust(jwk, StringField(entry, "kid"));
    if (!key.ok()) return key.status().Annotate(path + ": ");
    out.push_back(std::move(key).value());
  }
  return out;
}

Result<std::vector<TrustedKey>> KeysFromPem(const std::string& text, const std::string& path) {
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  std::vector<TrustedKey> out;
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
      ERR_clear_error();
      break;
    }
    std::string kind = name;
    const unsigned char* p = data;
    EVP_PKEY* key = nullptr;
    if (kind == "PUBLIC KEY") {
      key = d2i_PUBKEY(nullptr, &p, len);
    } else if (kind == "CERTIFICATE") {
      X509* cert = d2i_X509(nullptr, &p, len);
      if (cert != nullptr) key = X509_get_pubkey(cert);
      X509_free(cert);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    if (kind != "PUBLIC KEY" && kind != "CERTIFICATE") continue;  // e.g. parameters
    if (key == nullptr) {
      ERR_clear_error();
      return Status::InvalidArgument(path + ": a " + kind + " block does not decode");
    }
    PkeyPtr owned(key);
    Result<TrustedKey> trusted = TrustPublicKey(key);
    if (!trusted.ok()) return trusted.status().Annotate(path + ": ");
    out.push_back(std::move(trusted).value());
  }
  return out;
}

bool AudienceMatches(const json& aud, const std::string& want) {
  if (aud.is_string()) return aud.get<std::string>() == want;
  if (aud.is_array()) {
    for (const json& a : aud) {
      if (a.is_string() && a.get<std::string>() == want) return true;
    }
  }
  return false;
}

// Whether the space-separated list `words` (RFC 6749 3.3; any C-locale white space separates, as
// a stream's >> reads words) holds `want`.
bool WordListIncludes(std::string_view words, std::string_view want) {
  constexpr std::string_view kSpace = " \t\n\v\f\r";
  for (size_t start = words.find_first_not_of(kSpace); start != std::string_view::npos;) {
    const size_t end = std::min(words.find_first_of(kSpace, start), words.size());
    if (words.substr(start, end - start) == want) return true;
    start = words.find_first_not_of(kSpace, end);
  }
  return false;
}

bool ScopeIncludes(const json& claims, const std::string& want) {
  for (const char* name : {"scope", "scp"}) {
    auto it = claims.find(name);
    if (it == claims.end()) continue;
    if (it->is_string()) {
      if (WordListIncludes(it->get_ref<const std::string&>(), want)) return true;
    } else if (it->is_array()) {
      for (const json& w : *it) {
        if (w.is_string() && w.get_ref<const std::string&>() == want) return true;
      }
    }
  }
  return false;
}

Status Invalid(const std::string& why) { return Status::InvalidArgument("access token rejected: " + why); }

// The checks that need neither the cache nor a signature.
Status CheckShape(std::string_view token) {
  if (token.empty()) return Invalid("the bearer token is empty");
  if (token.size() > kMaxTokenBytes) return Invalid("the token is longer than 8192 octets");
  return Status::Ok();
}

// The value of each base64url character (RFC 4648 5), -1 for every other octet. A table: tokens
// are public, and every request's token is checked against it.
constexpr std::array<int8_t, 256> kBase64UrlValues = [] {
  std::array<int8_t, 256> v{};
  for (int8_t& x : v) x = -1;
  for (int i = 0; i < 26; ++i) {
    v['A' + i] = static_cast<int8_t>(i);
    v['a' + i] = static_cast<int8_t>(26 + i);
  }
  for (int i = 0; i < 10; ++i) v['0' + i] = static_cast<int8_t>(52 + i);
  v['-'] = 62;
  v['_'] = 63;
  return v;
}();

int Base64UrlValue(char c) { return kBase64UrlValues[static_cast<uint8_t>(c)]; }

// Whether `text` is the canonical base64url spelling of some octets (RFC 7515 2: no '=' padding,
// no line breaks or white space, and the bits below the last whole octet zero), so that one
// header, payload and signature have exactly one text.
bool IsCanonicalBase64Url(std::string_view text) {
  if (text.size() % 4 == 1) return false;  // 6 bits cannot end an octet
  for (char c : text) {
    if (Base64UrlValue(c) < 0) return false;
  }
  if (text.empty()) return true;
  // The last character carries 2 (size % 4 == 2) or 4 (== 3) bits below the last octet.
  const int unused = text.size() % 4 == 2 ? 4 : text.size() % 4 == 3 ? 2 : 0;
  return (Base64UrlValue(text.back()) & ((1 << unused) - 1)) == 0;
}

// Decodes base64url text already known to be canonical (IsCanonicalBase64Url).
void DecodeBase64Url(std::string_view text, std::string& out) {
  out.resize(text.size() * 3 / 4);
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    acc = (acc << 6) | static_cast<uint32_t>(Base64UrlValue(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = static_cast<char>((acc >> bits) & 0xff);
    }
  }
}

// Decodes one part of a compact JWS, accepting only the canonical spelling.
bool DecodeCanonicalBase64Url(std::string_view text, std::string& out) {
  if (!IsCanonicalBase64Url(text)) return false;
  DecodeBase64Url(text, out);
  return true;
}

// A compact JWS split at its dots (views into the token), each part checked canonical.
struct JwsText {
  std::string_view header, payload, signature;
};

Result<JwsText> SplitCompactJws(std::string_view token) {
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Invalid("not a compact JWS (expected three base64url parts separated by '.')");
  }
  JwsText parts{token.substr(0, dot1), token.substr(dot1 + 1, dot2 - dot1 - 1), token.substr(dot2 + 1)};
  if (!IsCanonicalBase64Url(parts.header) || !IsCanonicalBase64Url(parts.payload) ||
      !IsCanonicalBase64Url(parts.signature)) {
    return Invalid("a part is not canonical base64url (RFC 7515 2: no padding, unused bits zero)");
  }
  return parts;
}

// A compact JWS decoded: what a signature covers and what it is.
struct JwsParts {
  std::string header, payload, signature;
};

JwsParts DecodeJws(const JwsText& text) {
  JwsParts parts;
  DecodeBase64Url(text.header, parts.header);  // checked canonical by SplitCompactJws
  DecodeBase64Url(text.payload, parts.payload);
  DecodeBase64Url(text.signature, parts.signature);
  return parts;
}

// What the cache is keyed by: the token's text. Only the canonical spelling is accepted, so one
// header, payload and signature have one text, and a text is remembered only once it verified;
// hashing the text spares a cached request the decoding.
Sha256Digest CacheKey(std::string_view token) { return Sha256({AsBytes(token)}); }

}  // namespace

Result<std::vector<TrustedKey>> LoadTrustedKeys(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  size_t first = text->find_first_not_of(" \t\r\n");
  Result<std::vector<TrustedKey>> keys = (first != std::string::npos && (*text)[first] == '{')
                                             ? KeysFromJwks(*text, path)
                                             : KeysFromPem(*text, path);
  if (keys.ok() && keys->empty()) {
    return Status::InvalidArgument(path + " holds no usable public key: give a PEM public key or a JWKS document");
  }
  return keys;
}

AccessTokenVerifier::AccessTokenVerifier(std::vector<TrustedKey> keys, AccessTokenPolicy policy)
    : keys_(std::move(keys)), policy_(std::move(policy)) {}

size_t AccessTokenVerifier::DigestHash::operator()(const std::array<uint8_t, 32>& d) const {
  size_t h;
  std::memcpy(&h, d.data(), sizeof h);
  return h;
}

std::optional<VerifiedToken> AccessTokenVerifier::Cached(const std::array<uint8_t, 32>& digest, int64_t now_unix) {
  CacheShard& shard = cache_[digest[0] % kShards];
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.entries.find(digest);
  if (it == shard.entries.end()) return std::nullopt;
  if (now_unix <= it->second.remember_until) return it->second.token;
  shard.entries.erase(it);
  return std::nullopt;
}

Result<std::optional<VerifiedToken>> AccessTokenVerifier::Lookup(std::string_view token, int64_t now_unix) {
  MCX_RETURN_IF_ERROR(CheckShape(token));
  Result<JwsText> text = SplitCompactJws(token);
  if (!text.ok()) return text.status();
  return Cached(CacheKey(token), now_unix);
}

Result<VerifiedToken> AccessTokenVerifier::Verify(std::string_view token, int64_t now_unix) {
  MCX_RETURN_IF_ERROR(CheckShape(token));
  Result<JwsText> text = SplitCompactJws(token);
  if (!text.ok()) return text.status();
  // The cache key (the whole text, as CacheKey) and what an ES256 signature covers (the text up to
  // the second '.'), in one pass over the token.
  const Sha256PrefixAndWhole digests =
      Sha256OfPrefixAndWhole(AsBytes(token), text->header.size() + 1 + text->payload.size());
  const Sha256Digest& digest = digests.whole;
  if (std::optional<VerifiedToken> cached = Cached(digest, now_unix)) return std::move(*cached);
  const JwsParts parts = DecodeJws(*text);
  Result<VerifiedToken> verified =
      VerifyUncached(token, parts.header, parts.payload, parts.signature, digests.prefix, now_unix);
  if (!verified.ok()) return verified;
  CacheShard& shard = cache_[digest[0] % kShards];
  CacheEntry entry{*verified, std::min(verified->expires_at + policy_.clock_skew_seconds,
                                       now_unix + policy_.cache_seconds)};
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.entries.size() >= policy_.cache_capacity / kShards + 1) {
    // Full: drop the expired entries, and everything when that is not enough.
    for (auto it = shard.entries.begin(); it != shard.entries.end();) {
      it = now_unix > it->second.remember_until ? shard.entries.erase(it) : std::next(it);
    }
    if (shard.entries.size() >= policy_.cache_capacity / kShards + 1) shard.entries.clear();
  }
  shard.entries[digest] = std::move(entry);
  return verified;
}

Result<VerifiedToken> AccessTokenVerifier::VerifyUncached(std::string_view token, const std::string& header_json,
                                                          const std::string& payload, const std::string& signature,
                                                          const Sha256Digest& signing_digest, int64_t now) const {
  // The JOSE header, parsed once, by jansson with no flags, as cjose_jws_import parses it (a member
  // that is not a string counts as absent from "alg" and "kid"), so that the ES256 route below,
  // which skips cjose, refuses and admits exactly the headers cjose would. RS256 (and any other
  // "alg") goes through cjose as before.
  std::string alg, kid;
  {
    json_error_t jerr;
    const std::unique_ptr<json_t, JanssonFree> hdr(json_loadb(header_json.data(), header_json.size(), 0, &jerr));
    if (hdr == nullptr || !json_is_object(hdr.get())) return Invalid("the JOSE header is not a JSON object");
    // RFC 7515 4.1.11: a recipient that does not understand every extension named in "crit" must
    // refuse the JWS. This verifier understands none.
    if (json_object_get(hdr.get(), "crit") != nullptr) {
      return Invalid("the JOSE header has \"crit\": no JWS extension is understood here");
    }
    const char* alg_value = json_string_value(json_object_get(hdr.get(), "alg"));
    const char* kid_value = json_string_value(json_object_get(hdr.get(), "kid"));
    alg = alg_value != nullptr ? alg_value : "";
    kid = kid_value != nullptr ? kid_value : "";
  }
  cjose_err err;
  JwsPtr jws;
  if (alg != "ES256") {
    jws.reset(cjose_jws_import(token.data(), token.size(), &err));
    ERR_clear_error();
    if (!jws) return Invalid("not a JWS: a part is not base64url, or the JOSE header is not JSON with an alg");
  }
  if (alg != "ES256" && alg != "RS256") return Invalid("alg must be ES256 or RS256");

  // The algorithm is the key's, not the token's: a key is tried only when the header names the
  // one algorithm it admits (so no HS256 with an RSA key's bytes, no ES256/RS256 swap).
  // An ES256 key checks the signature itself (P256VerifyingKey: the raw r || s of 64 octets over
  // SHA-256 of the signing input, the token up to its second '.'); the rest, through cjose.
  bool signed_by_trusted = false;
  for (const TrustedKey& k : keys_) {
    if (!kid.empty() && !k.kid.empty() && k.kid != kid) continue;
    if (alg != AlgName(k.alg)) continue;
    if (k.es256 != nullptr) {
      if (signature.size() != 64) continue;
      if (k.es256->Verify(signing_digest, std::span<const uint8_t, 64>(reinterpret_cast<const uint8_t*>(signature.data()), 64))) {
        signed_by_trusted = true;
        break;
      }
      continue;
    }
    if (!jws) {  // an ES256 key without our verifier (built by hand, not by LoadTrustedKeys)
      jws.reset(cjose_jws_import(token.data(), token.size(), &err));
      ERR_clear_error();
      if (!jws) return Invalid("not a JWS: a part is not base64url, or the JOSE header is not JSON with an alg");
    }
    if (cjose_jws_verify(jws.get(), k.jwk.get(), &err)) {
      signed_by_trusted = true;
      break;
    }
    ERR_clear_error();
  }
  if (!signed_by_trusted) return Invalid("the signature does not verify with any trusted IdMS key");

  json claims = json::parse(payload, nullptr, false);
  if (claims.is_discarded() || !claims.is_object()) return Invalid("the claims are not a JSON object");

  const int64_t skew = policy_.clock_skew_seconds;
  int64_t exp = 0, nbf = 0;
  if (!NumericField(claims, "exp", exp)) return Invalid("the token has no numeric \"exp\"");
  if (now > exp + skew) return Invalid("the token has expired: ask the IdMS for a new one");
  if (claims.contains("nbf")) {
    if (!NumericField(claims, "nbf", nbf)) return Invalid("\"nbf\" is not a number");
    if (now + skew < nbf) return Invalid("the token is not valid yet (\"nbf\")");
  }
  if (StringField(claims, "iss") != policy_.issuer || policy_.issuer.empty()) {
    return Invalid("the issuer (\"iss\") is not the trusted IdMS");
  }
  if (!claims.contains("aud") || !AudienceMatches(claims["aud"], policy_.audience)) {
    return Invalid("the audience (\"aud\") does not name this KMS");
  }
  const std::string& id_claim = policy_.identity_claim;
  std::string identity = StringField(claims, id_claim.c_str());
  if (identity.empty()) return Invalid("the token carries no \"" + id_claim + "\" identity");
  if (!ScopeIncludes(claims, policy_.required_scope)) {
    return Status::PermissionDenied("the access token lacks the scope " + policy_.required_scope);
  }
  return VerifiedToken{std::move(identity), exp};
}

}  // namespace mcx::api
