// ParseKmsTarget: the routes and the forms of user URI and time that real clients send.
#include <gtest/gtest.h>

#include "api/kms_router.h"
#include "api/kms_xml.h"

namespace mcx::api {
namespace {

TEST(KmsTargetTest, Routes) {
  EXPECT_EQ(ParseKmsTarget("/keymanagement/identity/v1/init")->route, ApiRoute::kInit);
  EXPECT_EQ(ParseKmsTarget("/keymanagement/identity/v1/certcache?x=1")->route, ApiRoute::kCertCache);
  EXPECT_EQ(ParseKmsTarget("/keymanagement/identity/v1/keyprov")->route, ApiRoute::kKeyProv);
  EXPECT_EQ(ParseKmsTarget("/healthz")->route, ApiRoute::kHealthz);
  EXPECT_EQ(ParseKmsTarget("/keymanagement/identity/v1/keyprovx").status().code(), Status::Code::kNotFound);
  EXPECT_EQ(ParseKmsTarget("/keymanagement/identity/v2/init").status().code(), Status::Code::kNotFound);
  EXPECT_EQ(ParseKmsTarget("*").status().code(), Status::Code::kNotFound);
}

TEST(KmsTargetTest, UserAndTime) {
  auto t = ParseKmsTarget("/keymanagement/identity/v1/keyprov/sip%3Aalice%40example.org/eeaa0000deadbeef");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->user_uri, "sip:alice@example.org");
  EXPECT_TRUE(t->has_time);
  EXPECT_EQ(t->time, 0xEEAA0000ULL);
  auto raw = ParseKmsTarget("/keymanagement/identity/v1/keyprov/sip:alice@example.org");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->user_uri, "sip:alice@example.org");
  EXPECT_FALSE(raw->has_time);
  // After the 2036 rollover, NTP era 1.
  auto era1 = ParseKmsTarget("/keymanagement/identity/v1/keyprov/sip:a@b/0000100000000000");
  ASSERT_TRUE(era1.ok());
  EXPECT_EQ(era1->time, (1ULL << 32) + 0x1000);
  // A raw '/' after the user always introduces the time: a user URI with a '/' in it is sent
  // percent-encoded (see PercentDecoding).
  EXPECT_EQ(ParseKmsTarget("/keymanagement/identity/v1/keyprov/urn:x:a/b").status().code(),
            Status::Code::kInvalidArgument);
}

TEST(KmsTargetTest, WhatRealClientsSend) {
  // A base URL with a trailing slash: "//keymanagement/...".
  EXPECT_EQ(ParseKmsTarget("//keymanagement/identity/v1/init")->route, ApiRoute::kInit);
  auto doubled = ParseKmsTarget("//keymanagement/identity/v1/keyprov/sip:a@b/EEAA0000DEADBEEF");
  ASSERT_TRUE(doubled.ok()) << doubled.status().ToString();
  EXPECT_EQ(doubled->user_uri, "sip:a@b");
  EXPECT_TRUE(doubled->has_time);
  EXPECT_EQ(ParseKmsTarget("///healthz")->route, ApiRoute::kHealthz);
  // A trailing slash.
  EXPECT_EQ(ParseKmsTarget("/keymanagement/identity/v1/init/")->route, ApiRoute::kInit);
  EXPECT_EQ(ParseKmsTarget("/keymanagement/identity/v1/certcache/")->route, ApiRoute::kCertCache);
  auto keyprov = ParseKmsTarget("/keymanagement/identity/v1/keyprov/");
  ASSERT_TRUE(keyprov.ok());
  EXPECT_EQ(keyprov->route, ApiRoute::kKeyProv);
  EXPECT_TRUE(keyprov->user_uri.empty());
  // A time of the wrong length, or not hex, is malformed (400), never part of the user URI.
  for (const char* bad : {"/keymanagement/identity/v1/keyprov/sip:a@b/EEAA0000DEADBEE",
                          "/keymanagement/identity/v1/keyprov/sip:a@b/EEAA0000DEADBEEF0",
                          "/keymanagement/identity/v1/keyprov/sip:a@b/zz"}) {
    auto r = ParseKmsTarget(bad);
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("16 hex digits"), std::string::npos) << bad;
  }
}

TEST(KmsTargetTest, CertCacheNumberAndCertOfAKms) {
  auto cached = ParseKmsTarget("/keymanagement/identity/v1/certcache/7");
  ASSERT_TRUE(cached.ok()) << cached.status().ToString();
  EXPECT_EQ(cached->route, ApiRoute::kCertCache);
  EXPECT_TRUE(cached->has_cache_num);
  EXPECT_EQ(cached->cache_num, 7u);
  EXPECT_FALSE(ParseKmsTarget("/keymanagement/identity/v1/certcache")->has_cache_num);
  for (const char* bad : {"/keymanagement/identity/v1/certcache/x", "/keymanagement/identity/v1/certcache/-1",
                          "/keymanagement/identity/v1/certcache/99999999999999999999999",
                          "/keymanagement/identity/v1/certcache/1/2"}) {
    EXPECT_EQ(ParseKmsTarget(bad).status().code(), Status::Code::kInvalidArgument) << bad;
  }
  auto cert = ParseKmsTarget("/keymanagement/identity/v1/cert/kms.example.org");
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  EXPECT_EQ(cert->route, ApiRoute::kCert);
  EXPECT_EQ(cert->kms_uri, "kms.example.org");
  auto encoded = ParseKmsTarget("/keymanagement/identity/v1/cert/https%3A%2F%2Fkms.other.example");
  ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
  EXPECT_EQ(encoded->kms_uri, "https://kms.other.example");
  EXPECT_EQ(ParseKmsTarget("/keymanagement/identity/v1/cert/").status().code(), Status::Code::kInvalidArgument);
}

TEST(KmsTargetTest, MalformedUsersAndTimes) {
  for (const char* bad : {"/keymanagement/identity/v1/keyprov/alice", "/keymanagement/identity/v1/keyprov/sip:a@b/",
                          "/keymanagement/identity/v1/keyprov/sip:a@b/EEAA0000DEADBEEG",
                          "/keymanagement/identity/v1/keyprov/sip%3a%zz", "/keymanagement/identity/v1/keyprov/sip:a%20b",
                          "/keymanagement/identity/v1/keyprov/sip:%ff%fe"}) {
    EXPECT_EQ(ParseKmsTarget(bad).status().code(), Status::Code::kInvalidArgument) << bad;
  }
}

// The percent-decoding is Boost.URL's (RFC 3986); these pin what it decides, which is what the
// hand-written decoder before it decided.
TEST(KmsTargetTest, PercentDecoding) {
  constexpr std::string_view kKeyProv = "/keymanagement/identity/v1/keyprov/";
  auto parse = [&](std::string_view user) { return ParseKmsTarget(std::string(kKeyProv) + std::string(user)); };
  // Raw UTF-8 and encoded UTF-8 name the same user.
  auto raw = parse("sip:j\xc3\xb6rg@example.org");
  auto encoded = parse("sip%3Aj%C3%B6rg%40example.org");
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
  EXPECT_EQ(raw->user_uri, "sip:j\xc3\xb6rg@example.org");
  EXPECT_EQ(encoded->user_uri, raw->user_uri);
  // An encoded '/' belongs to the URI: what follows it is not taken for the time.
  auto slash = parse("urn:x:a%2FEEAA0000DEADBEEF");
  ASSERT_TRUE(slash.ok()) << slash.status().ToString();
  EXPECT_EQ(slash->user_uri, "urn:x:a/EEAA0000DEADBEEF");
  EXPECT_FALSE(slash->has_time);
  auto timed = parse("urn:x:a%2Fb/EEAA0000DEADBEEF");
  ASSERT_TRUE(timed.ok()) << timed.status().ToString();
  EXPECT_EQ(timed->user_uri, "urn:x:a/b");
  EXPECT_TRUE(timed->has_time);
  // A '%' that does not start two hex digits, wherever it is, and an encoded NUL.
  for (const char* bad : {"sip:a@b%", "sip:a@b%4", "sip:a@b%4G", "%%41sip:a@b", "sip:a%00@b"}) {
    auto r = parse(bad);
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << bad;
  }
  EXPECT_NE(parse("sip:a@b%4").status().ToString().find("use %XX with two hex digits"), std::string::npos);
  // Route names are matched as sent, never decoded.
  EXPECT_EQ(ParseKmsTarget("/keymanagement/identity/v1/%69nit").status().code(), Status::Code::kNotFound);
  EXPECT_EQ(ParseKmsTarget("/keymanagement/identity/v1/keyprov%2Fsip:a@b").status().code(), Status::Code::kNotFound);
}

TEST(KmsRequestTest, ParsesUserUriAndRefusesOtherDocuments) {
  auto doc = ParseKmsRequest(std::string("<KmsRequest xmlns=\"") + kKmsNamespace +
                             "\">\n  <UserUri> sip:a@b </UserUri>\n  <KmsUri>kms</KmsUri></KmsRequest>");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  EXPECT_EQ(doc->user_uri, "sip:a@b");
  EXPECT_EQ(doc->kms_uri, "kms");
  EXPECT_FALSE(ParseKmsRequest("<KmsRequest><UserUri>sip:a@b</UserUri></KmsRequest>").ok());  // no namespace
  EXPECT_FALSE(ParseKmsRequest(std::string("<KmsRequest xmlns=\"") + kKmsNamespace + "\"/>").ok());
  EXPECT_FALSE(ParseKmsRequest("not xml").ok());
  EXPECT_FALSE(ParseKmsRequest("<?xml version=\"1.0\"?><!DOCTYPE r SYSTEM \"file:///etc/passwd\"><r/>").ok());
}

TEST(KmsXmlTest, EscapesText) {
  std::string out;
  AppendXmlEscaped(out, "a<b>&\"c'");
  EXPECT_EQ(out, "a&lt;b&gt;&amp;&quot;c&apos;");
}

}  // namespace
}  // namespace mcx::api
