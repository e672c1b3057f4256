#include "bench/idms/test_idms.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/env.h"
#include "base/openssl_handles.h"

namespace mcx::api {
namespace {

using json = nlohmann::json;

using BioPtr = ossl::Bio;
using PkeyPtr = ossl::Pkey;

bool IsP256(EVP_PKEY* k) {
  if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) return false;
  char name[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) != 1) return false;
  return std::strcmp(name, "prime256v1") == 0 || std::strcmp(name, "P-256") == 0;
}

// The JWS algorithm of a signing key, or an error for a key a KMS would not trust.
Result<TokenAlg> AlgorithmOf(EVP_PKEY* k) {
  if (IsP256(k)) return TokenAlg::kES256;
  if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
    if (EVP_PKEY_get_bits(k) < 2048) return Status::InvalidArgument("RSA keys must have at least 2048 bits");
    return TokenAlg::kRS256;
  }
  return Status::InvalidArgument("only EC P-256 (ES256) and RSA (RS256) keys are supported");
}

// OpenSSL signs ECDSA in DER; ES256 wants r||s, 32 octets each (RFC 7518 3.4).
Result<std::string> DerEcdsaToRaw(const unsigned char* der, size_t len) {
  const unsigned char* p = der;
  ossl::EcdsaSig sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
  if (!sig) return Status::Internal("d2i_ECDSA_SIG failed");
  std::string out(64, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), o, 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), o + 32, 32) != 32) {
    return Status::Internal("ECDSA signature component too long");
  }
  return out;
}

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

Status GenerateTestIdmsKey(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::InvalidArgument("cannot create " + dir + ": " + ec.message());
  const fs::path priv = fs::path(dir) / kTestIdmsKeyFile;
  const fs::path pub = fs::path(dir) / kTestIdmsPublicKeyFile;
  if (fs::exists(priv) && fs::exists(pub)) return Status::Ok();

  PkeyPtr key(EVP_EC_gen("P-256"));
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
  return write(pub, pub_bio.get(), 0600);  // public, but in the data directory, where all is 0600
}

namespace {

// The JWS over `claims_json` with an already parsed key.
Result<std::string> SignJwt(EVP_PKEY* key, TokenAlg alg, std::string_view claims_json, std::string_view kid,
                            std::string_view extra_header_json) {
  json header = {{"alg", alg == TokenAlg::kES256 ? "ES256" : "RS256"}, {"typ", "JWT"}};
  if (!kid.empty()) header["kid"] = std::string(kid);
  std::string_view extra_members;  // the extra object's members as written, without its braces
  if (!extra_header_json.empty()) {
    json extra = json::parse(extra_header_json, nullptr, /*allow_exceptions=*/false);
    if (extra.is_discarded() || !extra.is_object()) return Status::InvalidArgument("the extra header is not a JSON object");
    // The extra members go in as written: the tests nest them past any parser's depth limit, and
    // json::dump recurses once per level (thousands of frames overflow a sanitizer's stack).
    // Members of ours that they name give way to theirs.
    for (const auto& member : extra.items()) header.erase(member.key());
    const size_t open = extra_header_json.find('{'), close = extra_header_json.rfind('}');
    extra_members = extra_header_json.substr(open + 1, close - open - 1);
    if (extra_members.find_first_not_of(" \t\r\n") == std::string_view::npos) extra_members = {};
  }
  std::string header_text = header.dump();
  if (!extra_members.empty()) {
    header_text.pop_back();  // the closing brace
    header_text += std::string(header.empty() ? "" : ",") + std::string(extra_members) + "}";
  }
  const std::string input = Base64UrlEncode(header_text) + "." + Base64UrlEncode(claims_json);
  ossl::MdCtx ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return Status::Internal("signing failed");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return Status::Internal("signing failed");
  }
  sig.resize(len);
  if (alg == TokenAlg::kES256) {
    Result<std::string> raw = DerEcdsaToRaw(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
    if (!raw.ok()) return raw.status();
    sig = std::move(raw).value();
  }
  return input + "." + Base64UrlEncode(sig);
}

Result<PkeyPtr> ParsePrivateKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    return Status::InvalidArgument("not a PEM private key");
  }
  return key;
}

}  // namespace

Result<std::string> SignTestJwt(const std::string& private_key_pem, std::string_view claims_json, std::string_view kid,
                                std::string_view extra_header_json) {
  Result<PkeyPtr> key = ParsePrivateKey(private_key_pem);
  if (!key.ok()) return key.status();
  Result<TokenAlg> alg = AlgorithmOf(key->get());
  if (!alg.ok()) return alg.status();
  return SignJwt(key->get(), *alg, claims_json, kid, extra_header_json);
}

struct TestTokenMinter::Key {
  PkeyPtr pkey;
  TokenAlg alg;
};

Result<TestTokenMinter> TestTokenMinter::Load(const std::string& private_key_pem_file) {
  Result<Bytes> pem_bytes = Env::Default().ReadFile(private_key_pem_file);
  if (!pem_bytes.ok()) return pem_bytes.status();
  Result<PkeyPtr> pkey = ParsePrivateKey(std::string(pem_bytes->begin(), pem_bytes->end()));
  if (!pkey.ok()) return pkey.status().Annotate(private_key_pem_file);
  Result<TokenAlg> alg = AlgorithmOf(pkey->get());
  if (!alg.ok()) return alg.status().Annotate(private_key_pem_file);
  auto key = std::make_shared<Key>();
  key->pkey = std::move(pkey).value();
  key->alg = *alg;
  return TestTokenMinter(std::move(key));
}

Result<std::string> TestTokenMinter::Mint(const TestTokenClaims& c, int64_t now_unix) const {
  json claims = {{"iss", c.issuer},
                 {"aud", c.audience},
                 {"sub", c.user_uri},
                 {c.identity_claim, c.user_uri},
                 {"scope", c.scope},
                 {"iat", now_unix},
                 {"nbf", now_unix + c.not_before_offset},
                 {"exp", now_unix + c.lifetime_seconds}};
  return SignJwt(key_->pkey.get(), key_->alg, claims.dump(), "", "");
}

Result<std::string> MintTestToken(const std::string& private_key_pem_file, const TestTokenClaims& c, int64_t now_unix) {
  Result<TestTokenMinter> minter = TestTokenMinter::Load(private_key_pem_file);
  if (!minter.ok()) return minter.status();
  return minter->Mint(c, now_unix);
}

}  // namespace mcx::api
