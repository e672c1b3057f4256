// AccessTokenVerifier against tokens made here: ES256 and RS256, PEM and JWKS keys, and each
// claim that can be wrong.
#include "api/access_token.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/api/api_test_env.h"

namespace mcx::api::testing {
namespace {

using json = nlohmann::json;

const int64_t kNow = 1800000000;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string WriteTemp(const std::string& name, const std::string& text) {
  const std::string path = TestIdmsDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

json Claims(const std::string& user = "sip:alice@example.org") {
  return {{"iss", kTestIdmsIssuer}, {"aud", kDefaultAudience}, {"mcptt_id", user},
          {"scope", std::string("openid ") + kKeyManagementScope}, {"exp", kNow + 600}, {"nbf", kNow - 10}};
}

AccessTokenVerifier EcVerifier() {
  auto keys = LoadTrustedKeys(TestIdmsDir() + "/" + kTestIdmsPublicKeyFile);
  EXPECT_TRUE(keys.ok()) << keys.status().ToString();
  return AccessTokenVerifier(std::move(keys).value(), ApiTestEnv::Policy());
}

std::string EcSign(const json& claims) {
  auto t = SignTestJwt(ReadAll(TestIdmsDir() + "/" + kTestIdmsKeyFile), claims.dump());
  EXPECT_TRUE(t.ok());
  return *t;
}

TEST(AccessTokenTest, AcceptsAValidEs256Token) {
  AccessTokenVerifier v = EcVerifier();
  auto r = v.Verify(EcSign(Claims()), kNow);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->identity, "sip:alice@example.org");
  // Cached: the same answer again.
  EXPECT_EQ(v.Verify(EcSign(Claims()), kNow)->identity, "sip:alice@example.org");
}

TEST(AccessTokenTest, TestIdmsKeyIsPrivateToItsOwner) {
  struct stat st {};
  ASSERT_EQ(stat((TestIdmsDir() + "/" + kTestIdmsKeyFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(AccessTokenTest, RejectsEachWrongClaim) {
  AccessTokenVerifier v = EcVerifier();
  auto rejected = [&](json c) { return v.Verify(EcSign(c), kNow).status().code(); };
  json c = Claims();
  c["exp"] = kNow - 120;
  EXPECT_EQ(rejected(c), Status::Code::kInvalidArgument);
  c = Claims();
  c["exp"] = kNow - 30;  // within the clock skew
  EXPECT_TRUE(v.Verify(EcSign(c), kNow).ok());
  c = Claims();
  c["nbf"] = kNow + 600;
  EXPECT_EQ(rejected(c), Status::Code::kInvalidArgument);
  c = Claims();
  c["iss"] = "https://evil.example";
  EXPECT_EQ(rejected(c), Status::Code::kInvalidArgument);
  c = Claims();
  c["aud"] = json::array({"other", kDefaultAudience});
  EXPECT_TRUE(v.Verify(EcSign(c), kNow).ok());
  c["aud"] = "other";
  EXPECT_EQ(rejected(c), Status::Code::kInvalidArgument);
  c = Claims();
  c.erase("mcptt_id");
  EXPECT_EQ(rejected(c), Status::Code::kInvalidArgument);
  c = Claims();
  c["exp"] = "tomorrow";
  EXPECT_EQ(rejected(c), Status::Code::kInvalidArgument);
  c = Claims();
  c["scope"] = "openid";
  EXPECT_EQ(rejected(c), Status::Code::kPermissionDenied);
  c = Claims();
  c.erase("scope");
  c["scp"] = json::array({kKeyManagementScope});
  EXPECT_TRUE(v.Verify(EcSign(c), kNow).ok());
}

// "scope" is a list of words separated by white space (RFC 6749 3.3); the scope must be one whole
// word of it, or one whole string of an array.
TEST(AccessTokenTest, TheScopeMustBeAWholeWord) {
  AccessTokenVerifier v = EcVerifier();
  const std::string want = kKeyManagementScope;
  auto with_scope = [&](const json& scope, const char* name = "scope") {
    json c = Claims();
    c.erase("scope");
    c[name] = scope;
    return v.Verify(EcSign(c), kNow).status().code();
  };
  for (const std::string& words : {want, "openid " + want, want + " openid", "  " + want + "  ", "a\t" + want + "\nb",
                                   "\v\f\r" + want}) {
    EXPECT_EQ(with_scope(words), Status::Code::kOk) << words;
    EXPECT_EQ(with_scope(words, "scp"), Status::Code::kOk) << words;
  }
  for (const std::string& words : {std::string(), std::string(" "), want + "x", "x" + want, want.substr(1),
                                   want.substr(0, want.size() - 1), "openid," + want, want + "\x01"}) {
    EXPECT_EQ(with_scope(words), Status::Code::kPermissionDenied) << words;
  }
  EXPECT_EQ(with_scope(json::array({"openid", want})), Status::Code::kOk);
  EXPECT_EQ(with_scope(json::array({"openid " + want})), Status::Code::kPermissionDenied);
  EXPECT_EQ(with_scope(json::array({7, want})), Status::Code::kOk);
  EXPECT_EQ(with_scope(7), Status::Code::kPermissionDenied);
  EXPECT_EQ(with_scope(json::object({{"s", want}})), Status::Code::kPermissionDenied);
}

TEST(AccessTokenTest, RejectsForgedAndMalformedTokens) {
  AccessTokenVerifier v = EcVerifier();
  const std::string good = EcSign(Claims());
  // Claims swapped under the signature.
  const size_t d1 = good.find('.'), d2 = good.rfind('.');
  json bob = Claims("sip:bob@example.org");
  const std::string swapped = good.substr(0, d1 + 1) + Base64UrlEncode(bob.dump()) + good.substr(d2);
  EXPECT_FALSE(v.Verify(swapped, kNow).ok());
  // alg "none".
  const std::string none = Base64UrlEncode(R"({"alg":"none"})") + "." + Base64UrlEncode(Claims().dump()) + ".";
  EXPECT_FALSE(v.Verify(none, kNow).ok());
  for (const char* junk : {"", "a", "a.b", "a.b.c.d", "....", "%%%.%%%.%%%", "e30.e30.e30"}) {
    EXPECT_EQ(v.Verify(junk, kNow).status().code(), Status::Code::kInvalidArgument) << junk;
  }
  // A token signed by a key the KMS does not trust.
  EVP_PKEY* other = EVP_EC_gen("P-256");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, other, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  auto foreign = SignTestJwt(std::string(data, static_cast<size_t>(len)), Claims().dump());
  BIO_free(bio);
  EVP_PKEY_free(other);
  ASSERT_TRUE(foreign.ok());
  EXPECT_FALSE(v.Verify(*foreign, kNow).ok());
}

// The key, not the token, chooses the algorithm: an HS256 token whose HMAC secret is the trusted
// public key's own PEM (the classic key-confusion forgery) is refused, as is "none" with a kid.
TEST(AccessTokenTest, TheKeyNotTheTokenChoosesTheAlgorithm) {
  AccessTokenVerifier v = EcVerifier();
  const std::string pub_pem = ReadAll(TestIdmsDir() + "/" + kTestIdmsPublicKeyFile);
  const std::string input = Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") + "." + Base64UrlEncode(Claims().dump());
  unsigned char mac[32];
  unsigned int mac_len = 0;
  ASSERT_NE(HMAC(EVP_sha256(), pub_pem.data(), static_cast<int>(pub_pem.size()),
                 reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len),
            nullptr);
  const std::string forged = input + "." + Base64UrlEncode(std::string(reinterpret_cast<char*>(mac), mac_len));
  EXPECT_EQ(v.Verify(forged, kNow).status().code(), Status::Code::kInvalidArgument);
  const std::string none =
      Base64UrlEncode(R"({"alg":"none","kid":"x"})") + "." + Base64UrlEncode(Claims().dump()) + "." + Base64UrlEncode("x");
  EXPECT_EQ(v.Verify(none, kNow).status().code(), Status::Code::kInvalidArgument);
  // The same claims, properly signed, pass: the refusals above are about the algorithm.
  EXPECT_TRUE(v.Verify(EcSign(Claims()), kNow).ok());
}

// Lookup() answers only from the cache: nothing before a Verify(), the identity after it, and
// the cheap refusals (empty, too long) at once.
TEST(AccessTokenTest, LookupAnswersFromTheCacheOnly) {
  AccessTokenVerifier v = EcVerifier();
  const std::string token = EcSign(Claims());
  auto before = v.Lookup(token, kNow);
  ASSERT_TRUE(before.ok());
  EXPECT_FALSE(before->has_value());
  ASSERT_TRUE(v.Verify(token, kNow).ok());
  auto after = v.Lookup(token, kNow);
  ASSERT_TRUE(after.ok());
  ASSERT_TRUE(after->has_value());
  EXPECT_EQ((*after)->identity, "sip:alice@example.org");
  EXPECT_FALSE(v.Lookup(token, kNow + 3600)->has_value());  // past the cache lifetime
  EXPECT_EQ(v.Lookup("", kNow).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(v.Lookup(std::string(9000, 'a'), kNow).status().code(), Status::Code::kInvalidArgument);
}

// RFC 7515 4.1.11: a "crit" header names extensions the recipient must understand; this
// verifier understands none, so a properly signed token with "crit" is refused.
TEST(AccessTokenTest, RejectsAJoseHeaderWithCrit) {
  AccessTokenVerifier v = EcVerifier();
  const std::string pem = ReadAll(TestIdmsDir() + "/" + kTestIdmsKeyFile);
  for (const char* extra : {R"({"crit":["exp"],"exp":1})", R"({"crit":["b64"],"b64":true})", R"({"crit":[]})"}) {
    auto token = SignTestJwt(pem, Claims().dump(), "", extra);
    ASSERT_TRUE(token.ok()) << token.status().ToString();
    auto r = v.Verify(*token, kNow);
    ASSERT_FALSE(r.ok()) << extra;
    EXPECT_NE(r.status().message().find("crit"), std::string::npos) << r.status().ToString();
  }
  // Another unknown member that is not critical is ignored, as RFC 7515 says.
  auto plain = SignTestJwt(pem, Claims().dump(), "", R"({"x-note":"hello"})");
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(v.Verify(*plain, kNow).ok());
}

// One token has one text: '=' padding and non-zero unused bits (another spelling of the same
// octets, which lenient decoders accept) are refused, before the cache and before the signature.
// The JOSE header is parsed once, by jansson as cjose parses it: a properly signed token whose
// header that parser refuses (a NUL in a string, nesting past its depth limit) is refused, as are
// headers that are not JSON objects.
TEST(AccessTokenTest, AHeaderTheJoseParserRefusesIsRefused) {
  AccessTokenVerifier v = EcVerifier();
  const std::string pem = ReadAll(TestIdmsDir() + "/" + kTestIdmsKeyFile);
  const std::string deep = std::string(2100, '[') + std::string(2100, ']');
  for (const std::string& extra : {std::string(R"({"x":"a\u0000b"})"), R"({"x":)" + deep + "}"}) {
    auto t = SignTestJwt(pem, Claims().dump(), "", extra);
    ASSERT_TRUE(t.ok()) << extra.substr(0, 40);
    auto r = v.Verify(*t, kNow);
    ASSERT_FALSE(r.ok()) << extra.substr(0, 40);
    EXPECT_NE(r.status().message().find("JOSE header is not a JSON object"), std::string::npos) << r.status().ToString();
  }
  const std::string good = EcSign(Claims());
  const std::string body = good.substr(good.find('.'));
  for (const char* header : {R"(["alg","ES256"])", R"("ES256")", R"({"alg":"ES256")", "\xef\xbb\xbf{\"alg\":\"ES256\"}"}) {
    auto r = v.Verify(Base64UrlEncode(header) + body, kNow);
    ASSERT_FALSE(r.ok()) << header;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  }
}

TEST(AccessTokenTest, AcceptsOnlyTheCanonicalBase64UrlSpelling) {
  AccessTokenVerifier v = EcVerifier();
  const std::string good = EcSign(Claims());
  ASSERT_TRUE(v.Verify(good, kNow).ok());
  const size_t d1 = good.find('.'), d2 = good.rfind('.');
  const std::string sig = good.substr(d2 + 1);
  ASSERT_EQ(sig.size(), 86u);  // 64 octets: 86 characters whose last 4 bits are unused and must be zero
  // The last character with an unused low bit set: the same 64 octets to a lenient decoder.
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const auto value = [&](char c) { return alphabet.find(c); };
  ASSERT_EQ(value(sig.back()) & 0xf, 0u);
  const std::string odd_bits = good.substr(0, d2 + 1) + sig.substr(0, 85) + alphabet[value(sig.back()) | 1];
  const std::string padded = good + "==";
  const std::string padded_header = good.substr(0, d1) + std::string(good.substr(0, d1).size() % 4 == 2 ? "==" : "=") +
                                    good.substr(d1);
  for (const std::string& spelling : {odd_bits, padded, padded_header}) {
    auto looked = v.Lookup(spelling, kNow);
    ASSERT_FALSE(looked.ok()) << spelling;
    EXPECT_NE(looked.status().message().find("canonical base64url"), std::string::npos) << looked.status().ToString();
    auto verified = v.Verify(spelling, kNow);
    ASSERT_FALSE(verified.ok()) << spelling;
    EXPECT_NE(verified.status().message().find("canonical base64url"), std::string::npos);
  }
  EXPECT_TRUE(v.Lookup(good, kNow)->has_value());
}

// The cache remembers what was verified (header, claims and signature together): a cached token
// does not vouch for another that shares its header and claims but not its signature.
TEST(AccessTokenTest, TheCacheVouchesOnlyForWhatWasVerified) {
  AccessTokenVerifier v = EcVerifier();
  const std::string alice = EcSign(Claims());
  const std::string bob = EcSign(Claims("sip:bob@example.org"));
  ASSERT_TRUE(v.Verify(alice, kNow).ok());
  auto hit = v.Lookup(std::string(alice), kNow);
  ASSERT_TRUE(hit.ok() && hit->has_value());
  EXPECT_EQ((*hit)->identity, "sip:alice@example.org");
  EXPECT_FALSE(v.Lookup(bob, kNow)->has_value());
  // Alice's header and claims with Bob's signature: not in the cache, and refused when checked.
  const std::string spliced = alice.substr(0, alice.rfind('.')) + bob.substr(bob.rfind('.'));
  EXPECT_FALSE(v.Lookup(spliced, kNow)->has_value());
  EXPECT_FALSE(v.Verify(spliced, kNow).ok());
}

TEST(AccessTokenTest, AcceptsRs256AndEs256KeysFromAJwks) {
  // An RSA IdMS key, published with the EC test key in one JWKS.
  EVP_PKEY* rsa = EVP_RSA_gen(2048);
  ASSERT_NE(rsa, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, rsa, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  const std::string rsa_pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  auto b64 = [](EVP_PKEY* k, const char* name) {
    BIGNUM* bn = nullptr;
    EVP_PKEY_get_bn_param(k, name, &bn);
    std::string raw(static_cast<size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(raw.data()));
    BN_free(bn);
    return Base64UrlEncode(raw);
  };
  json jwks = {{"keys", json::array()}};
  jwks["keys"].push_back({{"kty", "RSA"}, {"kid", "rsa-1"}, {"use", "sig"}, {"n", b64(rsa, OSSL_PKEY_PARAM_RSA_N)},
                          {"e", b64(rsa, OSSL_PKEY_PARAM_RSA_E)}});
  EVP_PKEY_free(rsa);
  // The EC test key as a JWK.
  const std::string ec_pem = ReadAll(TestIdmsDir() + "/" + kTestIdmsPublicKeyFile);
  BIO* ec_bio = BIO_new_mem_buf(ec_pem.data(), static_cast<int>(ec_pem.size()));
  EVP_PKEY* ec = PEM_read_bio_PUBKEY(ec_bio, nullptr, nullptr, nullptr);
  BIO_free(ec_bio);
  ASSERT_NE(ec, nullptr);
  unsigned char pub[65];
  size_t pub_len = 0;
  EVP_PKEY_get_octet_string_param(ec, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub, &pub_len);
  EVP_PKEY_free(ec);
  ASSERT_EQ(pub_len, 65u);
  jwks["keys"].push_back({{"kty", "EC"}, {"crv", "P-256"}, {"kid", "ec-1"},
                          {"x", Base64UrlEncode(std::string(reinterpret_cast<char*>(pub) + 1, 32))},
                          {"y", Base64UrlEncode(std::string(reinterpret_cast<char*>(pub) + 33, 32))}});
  auto keys = LoadTrustedKeys(WriteTemp("jwks.json", jwks.dump()));
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].es256, nullptr);  // RS256 stays with cjose
  EXPECT_NE((*keys)[1].es256, nullptr);  // the EC JWK gets our verifier
  AccessTokenVerifier v(std::move(keys).value(), ApiTestEnv::Policy());

  auto rs = SignTestJwt(rsa_pem, Claims("sip:rsa@example.org").dump(), "rsa-1");
  ASSERT_TRUE(rs.ok());
  auto r = v.Verify(*rs, kNow);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->identity, "sip:rsa@example.org");
  EXPECT_TRUE(v.Verify(EcSign(Claims()), kNow).ok());
  // The wrong kid selects no key.
  auto wrong_kid = SignTestJwt(rsa_pem, Claims().dump(), "ec-1");
  EXPECT_FALSE(v.Verify(*wrong_kid, kNow).ok());
}

// The trusted keys with the ES256 ones left to cjose (no P256VerifyingKey): the route every
// ES256 token took before our verifier, kept as the reference the new route must agree with.
std::vector<TrustedKey> CjoseOnly(std::vector<TrustedKey> keys) {
  for (TrustedKey& k : keys) k.es256 = nullptr;
  return keys;
}

std::string ForeignEcPem() {
  EVP_PKEY* other = EVP_EC_gen("P-256");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, other, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(other);
  return pem;
}

// ES256 signatures are checked by engine/math/p256_verify.h: a good token passes, any changed
// signature octet, a 63- or 65-octet signature and another key's signature are refused, and every
// verdict and message equals cjose's on the same token.
TEST(AccessTokenTest, Es256TokensAreCheckedByOurVerifierAsCjoseChecksThem) {
  auto keys = LoadTrustedKeys(TestIdmsDir() + "/" + kTestIdmsPublicKeyFile);
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  ASSERT_NE((*keys)[0].es256, nullptr) << "LoadTrustedKeys prepares ES256 keys for our verifier";
  const std::string pem = ReadAll(TestIdmsDir() + "/" + kTestIdmsKeyFile);

  const std::string good = EcSign(Claims());
  const size_t d2 = good.rfind('.');
  auto sig = Base64UrlDecode(good.substr(d2 + 1));
  ASSERT_TRUE(sig.ok());
  ASSERT_EQ(sig->size(), 64u);
  auto with_signature = [&](const std::string& octets) { return good.substr(0, d2 + 1) + Base64UrlEncode(octets); };

  std::vector<std::string> refused;
  for (size_t i = 0; i < 64; ++i) {
    for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}}) {
      std::string changed = *sig;
      changed[i] = static_cast<char>(changed[i] ^ flip);
      refused.push_back(with_signature(changed));
    }
  }
  refused.push_back(with_signature(sig->substr(0, 63)));
  refused.push_back(with_signature(std::string(1, '\0') + *sig));
  refused.push_back(with_signature(std::string(64, '\0')));
  refused.push_back(with_signature(std::string(64, '\xff')));
  refused.push_back(with_signature(sig->substr(32) + sig->substr(0, 32)));  // s || r
  refused.push_back(with_signature(""));
  auto foreign = SignTestJwt(ForeignEcPem(), Claims().dump());
  ASSERT_TRUE(foreign.ok());
  refused.push_back(*foreign);
  refused.push_back(good.substr(0, good.find('.') + 1) + Base64UrlEncode(Claims("sip:bob@example.org").dump()) +
                    good.substr(d2));

  AccessTokenVerifier ours(*keys, ApiTestEnv::Policy());
  AccessTokenVerifier cjose(CjoseOnly(*keys), ApiTestEnv::Policy());
  for (const std::string& token : refused) {
    auto a = ours.Verify(token, kNow);
    auto b = cjose.Verify(token, kNow);
    ASSERT_FALSE(a.ok()) << token;
    EXPECT_EQ(a.status().code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(a.status().ToString(), b.status().ToString()) << token;
  }
  // 63 and 65 octets are refused. (cjose took the first 64 of a longer signature and ignored the
  // rest, so one token had many texts; ours does not, so that case is not compared.)
  for (const std::string& octets : {sig->substr(0, 63), *sig + '\0', *sig + "\x01\x02"}) {
    auto r = ours.Verify(with_signature(octets), kNow);
    ASSERT_FALSE(r.ok()) << octets.size();
    EXPECT_NE(r.status().message().find("signature does not verify"), std::string::npos) << r.status().ToString();
  }

  // Accepted tokens, and header variants: kid, a non-string alg or kid (absent to cjose), alg
  // spelled otherwise, JSON that jansson refuses ("\u0000"), a header that is an array.
  std::vector<std::string> judged = {good, EcSign(Claims("sip:carol@example.org"))};
  for (const char* extra : {R"({"kid":"any"})", R"({"kid":7})", R"({"typ":"JWT","cty":"x"})", R"({"x":"a\u0000b"})",
                            R"({"x":[[[[[[[[1]]]]]]]]})"}) {
    auto t = SignTestJwt(pem, Claims().dump(), "", extra);
    ASSERT_TRUE(t.ok()) << extra;
    judged.push_back(*t);
  }
  const std::string body = good.substr(good.find('.'));
  for (const char* header : {R"({"alg":7})", R"({"alg":"es256"})", R"({"alg":"ES256","alg":"RS256"})",
                             R"({"alg":"RS256","alg":"ES256"})", R"(["alg","ES256"])", R"({"alg":"ES256")",
                             R"({"alg":"ES256","x":"\u0000"})", R"({"alg":null})",
                             R"({"alg":"ES256","x":1e400})", R"({"alg":"ES256","x":123456789012345678901234567890})"}) {
    judged.push_back(Base64UrlEncode(header) + body);
  }
  int accepted = 0;
  for (const std::string& token : judged) {
    AccessTokenVerifier fresh_ours(*keys, ApiTestEnv::Policy());
    AccessTokenVerifier fresh_cjose(CjoseOnly(*keys), ApiTestEnv::Policy());
    auto a = fresh_ours.Verify(token, kNow);
    auto b = fresh_cjose.Verify(token, kNow);
    EXPECT_EQ(a.ok(), b.ok()) << token;
    EXPECT_EQ(a.status().ToString(), b.status().ToString()) << token;
    if (a.ok()) {
      ++accepted;
      EXPECT_EQ(a->identity, b->identity);
    }
  }
  EXPECT_GE(accepted, 4);
}

TEST(AccessTokenTest, KeyFilesThatAreWrongSayWhy) {
  EXPECT_EQ(LoadTrustedKeys("/nonexistent/keys.pem").status().code(), Status::Code::kNotFound);
  EXPECT_FALSE(LoadTrustedKeys(WriteTemp("empty.pem", "nothing here\n")).ok());
  EXPECT_FALSE(LoadTrustedKeys(WriteTemp("bad.json", "{\"keys\": [{\"kty\": \"oct\"}]}")).ok());
  EXPECT_FALSE(LoadTrustedKeys(WriteTemp("notjson.json", "{not json")).ok());
}

TEST(AccessTokenTest, Base64UrlRoundTrips) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00"}) {
    auto back = Base64UrlDecode(Base64UrlEncode(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, s);
  }
  EXPECT_FALSE(Base64UrlDecode("ab+/").ok());
  EXPECT_FALSE(Base64UrlDecode("a").ok());
}

}  // namespace
}  // namespace mcx::api::testing
