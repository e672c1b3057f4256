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
  // A user URI with a '/' in it, percent-encoded or not.
  auto slash = ParseKmsTarget("/keymanagement/identity/v1/keyprov/urn:x:a/b");
  ASSERT_TRUE(slash.ok());
  EXPECT_EQ(slash->user_uri, "urn:x:a/b");
}

TEST(KmsTargetTest, MalformedUsersAndTimes) {
  for (const char* bad : {"/keymanagement/identity/v1/keyprov/alice", "/keymanagement/identity/v1/keyprov/sip:a@b/",
                          "/keymanagement/identity/v1/keyprov/sip:a@b/EEAA0000DEADBEEG",
                          "/keymanagement/identity/v1/keyprov/sip%3a%zz", "/keymanagement/identity/v1/keyprov/sip:a%20b",
                          "/keymanagement/identity/v1/keyprov/sip:%ff%fe"}) {
    EXPECT_EQ(ParseKmsTarget(bad).status().code(), Status::Code::kInvalidArgument) << bad;
  }
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
