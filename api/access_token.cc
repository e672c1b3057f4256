#include "api/access_token.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/env.h"
#include "base/sha256.h"

namespace mcx::api {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxTokenBytes = 8192;

struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
struct MdCtxFree { void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); } };
struct SigFree { void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); } };
struct BnFree { void operator()(BIGNUM* b) const { BN_free(b); } };
struct ParamBldFree { void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); } };
struct ParamFree { void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); } };
struct PkeyCtxFree { void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); } };
using BioPtr = std::unique_ptr<BIO, BioFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

EvpPkeyPtr Own(EVP_PKEY* k) { return EvpPkeyPtr(k, EVP_PKEY_free); }

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

enum class Alg { kES256, kRS256 };

bool IsP256(EVP_PKEY* k) {
  if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) return false;
  char name[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) != 1) return false;
  return std::strcmp(name, "prime256v1") == 0 || std::strcmp(name, "P-256") == 0;
}

// The algorithm a key signs with, or an error for a key this verifier does not accept.
Result<Alg> AlgorithmOf(EVP_PKEY* k) {
  if (IsP256(k)) return Alg::kES256;
  if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
    if (EVP_PKEY_get_bits(k) < 2048) return Status::InvalidArgument("RSA keys must have at least 2048 bits");
    return Alg::kRS256;
  }
  return Status::InvalidArgument("only EC P-256 (ES256) and RSA (RS256) keys are supported");
}

Result<std::string> ReadFile(const std::string& path) {
  Result<Bytes> b = Env::Default().ReadFile(path);
  if (!b.ok()) return b.status();
  return std::string(b->begin(), b->end());
}

Result<BnPtr> BnFromBase64Url(const json& jwk, const char* field) {
  if (!jwk.contains(field) || !jwk[field].is_string()) {
    return Status::InvalidArgument(std::string("JWK lacks \"") + field + "\"");
  }
  Result<std::string> raw = Base64UrlDecode(jwk[field].get<std::string>());
  if (!raw.ok()) return raw.status().Annotate(std::string("JWK \"") + field + "\": ");
  BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw->data()), static_cast<int>(raw->size()), nullptr);
  if (bn == nullptr) return Status::Internal("BN_bin2bn failed");
  return BnPtr(bn);
}

Result<EvpPkeyPtr> KeyFromParams(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument(std::string("the JWK is not a valid ") + type + " public key");
  }
  return Own(key);
}

Result<EvpPkeyPtr> KeyFromJwk(const json& jwk) {
  const std::string kty = StringField(jwk, "kty");
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (kty == "EC") {
    if (StringField(jwk, "crv") != "P-256") return Status::InvalidArgument("EC JWKs must use crv P-256");
    Result<BnPtr> x = BnFromBase64Url(jwk, "x"), y = BnFromBase64Url(jwk, "y");
    if (!x.ok()) return x.status();
    if (!y.ok()) return y.status();
    unsigned char pub[65] = {0x04};
    if (BN_num_bytes(x->get()) > 32 || BN_num_bytes(y->get()) > 32 || BN_bn2binpad(x->get(), pub + 1, 32) != 32 ||
        BN_bn2binpad(y->get(), pub + 33, 32) != 32) {
      return Status::InvalidArgument("EC JWK coordinates must be 32 octets");
    }
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub);
    return KeyFromParams("EC", bld.get());
  }
  if (kty == "RSA") {
    Result<BnPtr> n = BnFromBase64Url(jwk, "n"), e = BnFromBase64Url(jwk, "e");
    if (!n.ok()) return n.status();
    if (!e.ok()) return e.status();
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n->get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e->get());
    return KeyFromParams("RSA", bld.get());
  }
  return Status::InvalidArgument("JWK kty must be EC or RSA, got \"" + kty + "\"");
}

Result<std::vector<TrustedKey>> KeysFromJwks(const std::string& text, const std::string& path) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array()) {
    return Status::InvalidArgument(path + " is not a JWKS document: expected {\"keys\": [...]}");
  }
  std::vector<TrustedKey> out;
  for (const json& jwk : doc["keys"]) {
    if (!jwk.is_object()) return Status::InvalidArgument(path + ": every entry of \"keys\" must be an object");
    if (jwk.contains("use") && jwk["use"] != "sig") continue;  // encryption keys are not ours to use
    Result<EvpPkeyPtr> key = KeyFromJwk(jwk);
    if (!key.ok()) return key.status().Annotate(path + ": ");
    Result<Alg> alg = AlgorithmOf(key->get());
    if (!alg.ok()) return alg.status().Annotate(path + ": ");
    std::string kid = StringField(jwk, "kid");
    out.push_back({kid, *key});
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
    EvpPkeyPtr owned = Own(key);
    Result<Alg> alg = AlgorithmOf(key);
    if (!alg.ok()) return alg.status().Annotate(path + ": ");
    out.push_back({"", owned});
  }
  return out;
}

// ES256 signatures are r||s (32 octets each); OpenSSL verifies DER.
Result<std::string> RawEcdsaToDer(std::string_view raw) {
  if (raw.size() != 64) return Status::InvalidArgument("an ES256 signature must be 64 octets");
  std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return Status::Internal("ECDSA_SIG_set0 failed");
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return Status::Internal("i2d_ECDSA_SIG failed");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

Result<std::string> DerEcdsaToRaw(const unsigned char* der, size_t len) {
  const unsigned char* p = der;
  std::unique_ptr<ECDSA_SIG, SigFree> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
  if (!sig) return Status::Internal("d2i_ECDSA_SIG failed");
  std::string out(64, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), o, 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), o + 32, 32) != 32) {
    return Status::Internal("ECDSA signature component too long");
  }
  return out;
}

bool VerifySignature(EVP_PKEY* key, Alg alg, std::string_view signing_input, std::string_view sig) {
  std::string der;
  if (alg == Alg::kES256) {
    Result<std::string> d = RawEcdsaToDer(sig);
    if (!d.ok()) return false;
    der = std::move(d).value();
    sig = der;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
  ERR_clear_error();
  return ok;
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

bool ScopeIncludes(const json& claims, const std::string& want) {
  for (const char* name : {"scope", "scp"}) {
    if (!claims.contains(name)) continue;
    const json& s = claims[name];
    if (s.is_string()) {
      std::istringstream words(s.get<std::string>());
      for (std::string w; words >> w;) {
        if (w == want) return true;
      }
    } else if (s.is_array()) {
      for (const json& w : s) {
        if (w.is_string() && w.get<std::string>() == want) return true;
      }
    }
  }
  return false;
}

Status Invalid(const std::string& why) { return Status::InvalidArgument("access token rejected: " + why); }

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return Status::InvalidArgument("not base64url: bad character at offset " + std::to_string(i));
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (text.size() % 4 == 1) return Status::InvalidArgument("not base64url: impossible length");
  return out;
}

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

Result<VerifiedToken> AccessTokenVerifier::Verify(std::string_view token, int64_t now_unix) {
  if (token.empty()) return Invalid("the bearer token is empty");
  if (token.size() > kMaxTokenBytes) return Invalid("the token is longer than 8192 octets");
  const Sha256Digest digest = Sha256({AsBytes(token)});
  CacheShard& shard = cache_[digest[0] % kShards];
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    auto it = shard.entries.find(digest);
    if (it != shard.entries.end()) {
      if (now_unix <= it->second.remember_until) return it->second.token;
      shard.entries.erase(it);
    }
  }
  Result<VerifiedToken> verified = VerifyUncached(token, now_unix);
  if (!verified.ok()) return verified;
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

Result<VerifiedToken> AccessTokenVerifier::VerifyUncached(std::string_view token, int64_t now) const {
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Invalid("not a compact JWS (expected three base64url parts separated by '.')");
  }
  Result<std::string> header_text = Base64UrlDecode(token.substr(0, dot1));
  Result<std::string> claims_text = Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  Result<std::string> sig = Base64UrlDecode(token.substr(dot2 + 1));
  if (!header_text.ok() || !claims_text.ok() || !sig.ok()) return Invalid("a part is not valid base64url");
  json header = json::parse(*header_text, nullptr, false);
  json claims = json::parse(*claims_text, nullptr, false);
  if (header.is_discarded() || !header.is_object()) return Invalid("the JOSE header is not a JSON object");
  if (claims.is_discarded() || !claims.is_object()) return Invalid("the claims are not a JSON object");

  const std::string alg_name = StringField(header, "alg");
  Alg alg;
  if (alg_name == "ES256") alg = Alg::kES256;
  else if (alg_name == "RS256") alg = Alg::kRS256;
  else return Invalid("alg must be ES256 or RS256");
  const std::string kid = StringField(header, "kid");

  const std::string_view signing_input = token.substr(0, dot2);
  bool signed_by_trusted = false;
  for (const TrustedKey& k : keys_) {
    if (!kid.empty() && !k.kid.empty() && k.kid != kid) continue;
    Result<Alg> key_alg = AlgorithmOf(k.key.get());
    if (!key_alg.ok() || *key_alg != alg) continue;
    if (VerifySignature(k.key.get(), alg, signing_input, *sig)) {
      signed_by_trusted = true;
      break;
    }
  }
  if (!signed_by_trusted) return Invalid("the signature does not verify with any trusted IdMS key");

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

// --- Test IdMS ---

Status GenerateTestIdmsKey(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::InvalidArgument("cannot create " + dir + ": " + ec.message());
  const fs::path priv = fs::path(dir) / kTestIdmsKeyFile;
  const fs::path pub = fs::path(dir) / kTestIdmsPublicKeyFile;
  if (fs::exists(priv) && fs::exists(pub)) return Status::Ok();

  EvpPkeyPtr key = Own(EVP_EC_gen("P-256"));
  if (!key) return Status::Internal("EC key generation failed");
  BioPtr priv_bio(BIO_new(BIO_s_mem())), pub_bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(priv_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_PUBKEY(pub_bio.get(), key.get()) != 1) {
    return Status::Internal("PEM encoding failed");
  }
  auto write = [](const fs::path& path, BIO* bio, mode_t mode) -> Status {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    const mode_t old = umask(0077);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    umask(old);
    out.write(data, len);
    out.close();
    if (!out || chmod(path.c_str(), mode) != 0) return Status::Internal("cannot write " + path.string());
    return Status::Ok();
  };
  MCX_RETURN_IF_ERROR(write(priv, priv_bio.get(), 0600));
  return write(pub, pub_bio.get(), 0644);
}

Result<std::string> SignTestJwt(const std::string& private_key_pem, std::string_view claims_json, std::string_view kid) {
  BioPtr bio(BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())));
  EvpPkeyPtr key = Own(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    return Status::InvalidArgument("not a PEM private key");
  }
  Result<Alg> alg = AlgorithmOf(key.get());
  if (!alg.ok()) return alg.status();
  json header = {{"alg", *alg == Alg::kES256 ? "ES256" : "RS256"}, {"typ", "JWT"}};
  if (!kid.empty()) header["kid"] = std::string(kid);
  const std::string input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims_json);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return Status::Internal("signing failed");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return Status::Internal("signing failed");
  }
  sig.resize(len);
  if (*alg == Alg::kES256) {
    Result<std::string> raw = DerEcdsaToRaw(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
    if (!raw.ok()) return raw.status();
    sig = std::move(raw).value();
  }
  return input + "." + Base64UrlEncode(sig);
}

Result<std::string> MintTestToken(const std::string& private_key_pem_file, const TestTokenClaims& c, int64_t now_unix) {
  Result<std::string> pem = ReadFile(private_key_pem_file);
  if (!pem.ok()) return pem.status();
  json claims = {{"iss", c.issuer},
                 {"aud", c.audience},
                 {"sub", c.user_uri},
                 {c.identity_claim, c.user_uri},
                 {"scope", c.scope},
                 {"iat", now_unix},
                 {"nbf", now_unix + c.not_before_offset},
                 {"exp", now_unix + c.lifetime_seconds}};
  return SignTestJwt(*pem, claims.dump());
}

}  // namespace mcx::api
