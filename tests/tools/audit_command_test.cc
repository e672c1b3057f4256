// `mcx-kms audit verify` and `mcx-kms audit show`, the real binary on a real KMS: records written
// through the library, tampered with by SQL, read back by user and date.
#include <gtest/gtest.h>

#include "tests/engine/audit/audit_test_env.h"

namespace mcx::testing {
namespace {

class AuditCommandTest : public AuditTest {
 protected:
  int Run(const std::string& args, std::string& out) {
    return RunCommand(std::string(MCX_KMS_BINARY) + " audit " + args + " --data-dir " + config_.data_dir.string(),
                      out);
  }

  void WriteHistory() {
    AuditLogOptions o;
    o.node = "kms-1";
    AuditLog log(*store_, *custody_, o);
    std::vector<KeySetRef> bulk;
    for (int u = 0; u < 20; ++u) {
      for (uint64_t p = 3905; p < 3909; ++p) bulk.push_back({"sip:r" + std::to_string(u) + "@example.org", p});
    }
    ASSERT_TRUE(log.Record(KeySetsIssued("alice", "kms.example.org/cert-1", bulk)).ok());
    std::vector<KeySetRef> one = {{"sip:r7@example.org", 3905}};
    ASSERT_TRUE(log.Record(KeySetsDelivered("server", "kms.example.org/cert-1", one)).ok());
    for (int i = 1; i <= 6; ++i) ASSERT_TRUE(log.Record(Event(i)).ok());
  }
};

TEST_F(AuditCommandTest, VerifyPassesOnAnIntactLogAndPrintsAnchors) {
  WriteHistory();
  std::string out;
  EXPECT_EQ(Run("verify", out), 0) << out;
  EXPECT_NE(out.find("1 node(s), 8 record(s)"), std::string::npos) << out;
  EXPECT_NE(out.find("anchor kms-1:8:"), std::string::npos) << out;
  EXPECT_NE(out.find("ok: every chain is intact"), std::string::npos) << out;
}

TEST_F(AuditCommandTest, VerifyNamesTheFirstTamperedRecordAndFails) {
  WriteHistory();
  Sql("UPDATE audit_log SET detail = 'periods 1' WHERE seq = 3");
  std::string out;
  EXPECT_NE(Run("verify", out), 0) << out;
  EXPECT_NE(out.find("FIRST BAD RECORD 3: edited"), std::string::npos) << out;
  EXPECT_NE(out.find("tampered"), std::string::npos) << out;
}

TEST_F(AuditCommandTest, VerifyWithAnAnchorCatchesACutTail) {
  WriteHistory();
  std::string out;
  ASSERT_EQ(Run("verify", out), 0) << out;
  const size_t at = out.find("anchor ");
  ASSERT_NE(at, std::string::npos);
  const std::string anchor = out.substr(at + 7, out.find('\n', at) - at - 7);
  Sql("DELETE FROM audit_log WHERE seq >= 7");
  EXPECT_EQ(Run("verify", out), 0) << out;
  EXPECT_NE(Run("verify --anchor " + anchor, out), 0) << out;
  EXPECT_NE(out.find("FIRST BAD RECORD 7: truncated"), std::string::npos) << out;
}

TEST_F(AuditCommandTest, ShowByUserFindsTheUserInsideABatch) {
  WriteHistory();
  std::string out;
  ASSERT_EQ(Run("show --user sip:r7@example.org", out), 0) << out;
  EXPECT_NE(out.find("key-sets-issued-batch  batch of 20 user(s)  cert kms.example.org/cert-1  by alice"),
            std::string::npos) << out;
  EXPECT_NE(out.find("    user sip:r7@example.org  periods 3905-3908"), std::string::npos) << out;
  EXPECT_NE(out.find("key-set-delivered  user sip:r7@example.org  periods 3905"), std::string::npos) << out;
  EXPECT_EQ(out.find("sip:r17@"), std::string::npos) << out;
  EXPECT_NE(out.find("2 record(s)"), std::string::npos) << out;

  ASSERT_EQ(Run("show", out), 0) << out;
  EXPECT_NE(out.find("8 record(s)"), std::string::npos) << out;
  ASSERT_EQ(Run("show --since 2999-01-01", out), 0) << out;
  EXPECT_NE(out.find("0 record(s)"), std::string::npos) << out;
  EXPECT_NE(Run("show --since someday", out), 0) << out;
  EXPECT_NE(out.find("YYYY-MM-DD"), std::string::npos) << out;
}

TEST_F(AuditCommandTest, HelpExplainsWhatVerifyCannotSee) {
  std::string out;
  ASSERT_EQ(RunCommand(std::string(MCX_KMS_BINARY) + " audit verify --help", out), 0) << out;
  EXPECT_NE(out.find("--anchor"), std::string::npos) << out;
  EXPECT_NE(out.find("LAST records"), std::string::npos) << out;
  ASSERT_EQ(RunCommand(std::string(MCX_KMS_BINARY) + " audit show --help", out), 0) << out;
  EXPECT_NE(out.find("--user"), std::string::npos) << out;
  EXPECT_NE(out.find("--since"), std::string::npos) << out;
}

}  // namespace
}  // namespace mcx::testing
