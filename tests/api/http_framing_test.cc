// Request framing that RFC 9112 says is an error, refused with 400 rather than guessed at: a
// proxy in front may frame such a request differently from us (request smuggling).
#include <gtest/gtest.h>

#include "tests/api/api_test_env.h"
#include "tests/api/http_test_client.h"

namespace mcx::api::testing {
namespace {

const std::string kKeyProvHead = "POST /keymanagement/identity/v1/keyprov HTTP/1.1\r\nHost: x\r\n";

class HttpFramingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    env_ = new ApiTestEnv();
    ASSERT_TRUE(env_->status.ok()) << env_->status.ToString();
  }
  static void TearDownTestSuite() {
    delete env_;
    env_ = nullptr;
  }
  HttpResult Raw(const std::string& bytes) {
    HttpTestClient client(env_->server.port());
    return client.SendRaw(bytes);
  }
  static ApiTestEnv* env_;
};
ApiTestEnv* HttpFramingTest::env_ = nullptr;

TEST_F(HttpFramingTest, ChunkedAloneIsRead) {
  const std::string auth = "Authorization: Bearer " + TokenFor("sip:alice@example.org") + "\r\n";
  HttpResult r = Raw(kKeyProvHead + auth + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(r.status, 200) << r.body;
  HttpResult spaced = Raw(kKeyProvHead + auth + "Transfer-Encoding:  Chunked \r\n\r\n0\r\n\r\n");
  EXPECT_EQ(spaced.status, 200) << spaced.body;
}

TEST_F(HttpFramingTest, OtherTransferCodingsAre400) {
  for (const char* te : {"xchunked", "gzip, chunked", "chunked, chunked", "identity", "chunked;x=1"}) {
    HttpResult r = Raw(kKeyProvHead + "Transfer-Encoding: " + te + "\r\n\r\n0\r\n\r\n");
    EXPECT_EQ(r.status, 400) << te << ": " << r.body;
    EXPECT_NE(r.body.find("Transfer-Encoding"), std::string::npos) << te;
  }
}

// RFC 9112 5.2: a folded header line (obs-fold) is refused, whichever field it continues and
// however the request arrives (whole, or split right at the fold).
TEST_F(HttpFramingTest, FoldedHeaderLinesAre400) {
  const std::string auth = "Authorization: Bearer " + TokenFor("sip:alice@example.org") + "\r\n";
  for (const std::string& folded : {std::string("X-Note: a\r\n b\r\n"), std::string("X-Note: a\r\n\tb\r\n"),
                                    std::string("Content-Length:\r\n 0\r\n"), std::string("Host2: x\r\n  \r\n")}) {
    HttpResult r = Raw(kKeyProvHead + auth + folded + "\r\n");
    EXPECT_EQ(r.status, 400) << folded << ": " << r.body;
    EXPECT_NE(r.body.find("obs-fold"), std::string::npos) << folded;
  }
  // Split right after the line break, so the fold is seen only once the next packet arrives.
  HttpTestClient client(env_->server.port());
  HttpResult split = client.SendInParts({kKeyProvHead + auth + "X-Note: a\r\n", "\tb\r\n\r\n"}, 100);
  EXPECT_EQ(split.status, 400) << split.body;
  HttpTestClient client2(env_->server.port());
  HttpResult split_cr = client2.SendInParts({kKeyProvHead + auth + "X-Note: a\r", "\n b\r\n\r\n"}, 100);
  EXPECT_EQ(split_cr.status, 400) << split_cr.body;
  // The same request unfolded is served, also when its end arrives in pieces.
  HttpTestClient client3(env_->server.port());
  HttpResult pieces = client3.SendInParts({kKeyProvHead + auth + "X-Note: a b\r\n", "\r", "\n"}, 50);
  EXPECT_EQ(pieces.status, 200) << pieces.body;
  HttpResult plain = Raw(kKeyProvHead + auth + "X-Note: a b\r\n\r\n");
  EXPECT_EQ(plain.status, 200) << plain.body;
}

TEST_F(HttpFramingTest, PipelinedRequestsAreStillAnsweredInOrder) {
  HttpTestClient client(env_->server.port());
  const std::string health = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string metrics = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  HttpResult first = client.SendRaw(health + metrics);
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, "alive\n");
  // The second answer was read from the same buffer: ask the connection for it.
  HttpResult second = client.SendRaw("");
  EXPECT_EQ(second.status, 200);
  EXPECT_NE(second.body.find("mcx_kms_"), std::string::npos);
}

}  // namespace
}  // namespace mcx::api::testing
