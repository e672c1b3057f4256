// The KMS interface's XML written and read without a server: key material never left behind in
// freed memory, and the KmsRequest limits checked before libxml2 sees the body.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "api/kms_xml.h"
#include "base/wiping_allocator.h"
#include "tests/api/api_test_env.h"
#include "tests/api/http_test_client.h"
#include "tests/support/released_blocks.h"

namespace mcx::api::testing {
namespace {

// A user URI of `n` octets, with characters that must be escaped (each becomes 5 or 6 octets).
std::string LongUserUri(size_t n) {
  std::string uri = "sip:";
  while (uri.size() < n - 12) uri += "a&b";
  uri.resize(n - 12);
  return uri + "@example.org";
}

TEST(KmsXmlTest, AKeyProvWithALongUserUriLeavesNoKeyInFreedMemory) {
  const std::string user = LongUserUri(700);
  Result<KeySet> ks = SharedKms().KeySetAt(user, NtpNow());
  ASSERT_TRUE(ks.ok()) << ks.status().ToString();
  const std::string rsk_hex = ToUpperHex(ks->rsk.view());
  KmsResponseHeader header{user, "kms.example.org", NtpNow(),
                           "https://kms.example.org/keymanagement/identity/v1/keyprov/" + user};
  std::string copy;
  std::vector<mcx::testing::ReleasedBlock> released;
  {
    mcx::testing::ReleasedBlocks observer;
    {
      const std::vector<KeySet> sets{*ks, *ks, *ks};
      SecretString doc = KmsResponseWriter::KeyProv(header, SharedKms().Certificates()->issuing.front().certificate, sets);
      copy.assign(doc.data(), doc.size());
    }
    released = observer.blocks();
  }

  ASSERT_NE(copy.find(rsk_hex), std::string::npos);
  EXPECT_EQ(XmllintSchemaErrors(copy), "");
  EXPECT_EQ(XmlText(copy, "UserUri"), user);
  size_t largest = 0;
  for (const mcx::testing::ReleasedBlock& b : released) {
    EXPECT_TRUE(b.wiped) << "a released block of " << b.bytes << " octets was not wiped";
    largest = std::max(largest, b.bytes);
  }
  // The document's own block was among them (released when `doc` went out of scope).
  EXPECT_GE(largest, copy.size());
}

const std::string kOpen = std::string("<KmsRequest xmlns=\"") + kKmsNamespace + "\"";
const std::string kUserUriElement = "<UserUri>sip:alice@example.org</UserUri>";

// A body refused by the scan: the error names the limit, and libxml2 never saw the body.
void ExpectRefusedUnparsed(const std::string& body, const std::string& words) {
  const uint64_t parses = KmsRequestParsesForTesting();
  Result<KmsRequestDocument> doc = ParseKmsRequest(body);
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(doc.status().message().find(words), std::string::npos) << doc.status().ToString();
  EXPECT_EQ(KmsRequestParsesForTesting(), parses) << "the parser ran on a body beyond the limits";
}

TEST(KmsXmlTest, AKmsRequestOf64KiBWithThousandsOfAttributesIsRefusedUnparsed) {
  // Distinct names, as short as they come (a, b, ..., aa, ab, ...): about 9,800 attributes.
  const std::string first = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const std::string more = first + "0123456789-.";
  const auto name = [&](size_t k) {
    if (k < 52) return std::string(1, first[k]);
    k -= 52;
    if (k < 52 * 64) return std::string{first[k / 64], more[k % 64]};
    k -= 52 * 64;
    return std::string{first[k / 4096], more[(k / 64) % 64], more[k % 64]};
  };
  std::string body = kOpen;
  size_t n = 0;
  while (body.size() < 64 * 1024 - 64) body += " " + name(n++) + "=''";
  body += ">" + kUserUriElement + "</KmsRequest>";
  ASSERT_GT(n, 9000u);
  ExpectRefusedUnparsed(body, "more than 64 attributes");
}

TEST(KmsXmlTest, DeepOrWideKmsRequestsAreRefusedUnparsed) {
  std::string deep = kOpen + ">";
  for (int i = 0; i < 9; ++i) deep += "<x>";
  for (int i = 0; i < 9; ++i) deep += "</x>";
  ExpectRefusedUnparsed(deep + kUserUriElement + "</KmsRequest>", "more than 8 deep");
  std::string wide = kOpen + ">" + kUserUriElement;
  for (int i = 0; i < 64; ++i) wide += "<x/>";
  ExpectRefusedUnparsed(wide + "</KmsRequest>", "more than 64 elements");
  std::string comments = kOpen + ">" + kUserUriElement;
  for (int i = 0; i < 64; ++i) comments += "<!-- -->";
  ExpectRefusedUnparsed(comments + "</KmsRequest>", "more than 64 elements");
  ExpectRefusedUnparsed("<!DOCTYPE KmsRequest [<!ENTITY a 'b'>]>" + kOpen + ">" + kUserUriElement + "</KmsRequest>", "DTDs");
}

TEST(KmsXmlTest, KmsRequestsWithinTheLimitsAreParsed) {
  // '=' and '>' inside quoted values and text are not attributes or tag ends.
  std::string body = "<?xml version='1.0'?>" + kOpen + " xmlns:x='urn:x' x:note='a=b>c'>" + kUserUriElement +
                     "<KmsUri>kms.example.org</KmsUri><ClientReqUrl>https://k/x?a=b&amp;c=d</ClientReqUrl>";
  std::string nested = "<x:e>";
  for (int i = 0; i < 6; ++i) nested = "<x:e a='1'>" + nested + "</x:e>";
  body += nested + "</x:e></KmsRequest>";
  ASSERT_TRUE(CheckKmsRequestLimits(body).ok()) << CheckKmsRequestLimits(body).ToString();
  const uint64_t parses = KmsRequestParsesForTesting();
  Result<KmsRequestDocument> doc = ParseKmsRequest(body);
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  EXPECT_EQ(doc->user_uri, "sip:alice@example.org");
  EXPECT_EQ(doc->client_req_url, "https://k/x?a=b&c=d");
  EXPECT_EQ(KmsRequestParsesForTesting(), parses + 1);
}

}  // namespace
}  // namespace mcx::api::testing
