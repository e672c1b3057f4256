// The audit chain against each kind of tampering, done with SQL on the real store file: verify
// names the kind and the sequence number where the chain first goes wrong.
#include <sys/stat.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "tests/engine/audit/audit_test_env.h"

namespace mcx::testing {
namespace {

TEST_F(AuditTest, AnIntactChainVerifiesWithCounts) {
  Write(20);
  AuditVerification v = Verify();
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(v.nodes, 1u);
  EXPECT_EQ(v.records, 20u);
  ASSERT_EQ(v.tips.size(), 1u);
  EXPECT_EQ(v.tips[0].node, "kms-1");
  EXPECT_EQ(v.tips[0].tip.seq, 20u);
}

TEST_F(AuditTest, RecordsAreNumberedChainedAndMacedAsDocumented) {
  Write(3);
  std::vector<AuditRecord> chain;
  ASSERT_TRUE(store_->ScanChain("kms-1", 1, [&](const AuditRecord& r) {
    chain.push_back(r);
    return true;
  }).ok());
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_EQ(chain[0].prev_hash, AuditHash{});
  for (size_t i = 0; i < chain.size(); ++i) {
    EXPECT_EQ(chain[i].seq, i + 1);
    EXPECT_EQ(chain[i].hash, ComputeAuditHash(chain[i]));
    Result<AuditMac> mac = custody_->Authenticate(chain[i].hash);
    ASSERT_TRUE(mac.ok());
    EXPECT_EQ(chain[i].mac, *mac);
    if (i > 0) {
      EXPECT_EQ(chain[i].prev_hash, chain[i - 1].hash);
    }
  }
  EXPECT_EQ(chain[0].kind, "key-set-delivered");
  EXPECT_EQ(chain[2].kind, "key-set-issued");
}

TEST_F(AuditTest, EditedFieldIsReportedAsEditedAtItsRecord) {
  Write(12);
  Sql("UPDATE audit_log SET user_uri = 'sip:mallory@example.org' WHERE seq = 7");
  ExpectFinding(AuditProblem::kEdited, 7);
}

TEST_F(AuditTest, EditedTimeIsReportedAsEdited) {
  Write(12);
  Sql("UPDATE audit_log SET time = time - 86400 WHERE seq = 1");
  ExpectFinding(AuditProblem::kEdited, 1);
}

TEST_F(AuditTest, ChangedMacIsReportedAsEdited) {
  Write(12);
  Sql("UPDATE audit_log SET mac = randomblob(32) WHERE seq = 9");
  ExpectFinding(AuditProblem::kEdited, 9);
}

TEST_F(AuditTest, EditWithRecomputedHashIsCaughtByTheMac) {
  Write(12);
  // The attacker edits a field and recomputes the hash (it can: SHA-256 is public), not the MAC.
  std::optional<AuditRecord> r;
  ASSERT_TRUE(store_->ScanChain("kms-1", 5, [&](const AuditRecord& rec) {
    r = rec;
    return false;
  }).ok());
  ASSERT_TRUE(r.has_value());
  r->actor = "nobody";
  const AuditHash h = ComputeAuditHash(*r);
  Sql("UPDATE audit_log SET actor = 'nobody', hash = x'" + ToHex(h) + "' WHERE seq = 5");
  ExpectFinding(AuditProblem::kEdited, 5);
}

TEST_F(AuditTest, DeletedMiddleRecordIsReportedAsDeletedAtItsNumber) {
  Write(12);
  Sql("DELETE FROM audit_log WHERE seq = 5");
  ExpectFinding(AuditProblem::kDeleted, 5);
}

TEST_F(AuditTest, DeletionHiddenByRenumberingIsStillReportedAsDeleted) {
  Write(12);
  Sql("DELETE FROM audit_log WHERE seq IN (5, 6)");
  Sql("UPDATE audit_log SET seq = seq + 1000 WHERE seq > 6");
  Sql("UPDATE audit_log SET seq = seq - 1002 WHERE seq > 1000");
  ExpectFinding(AuditProblem::kDeleted, 5);
  AuditVerification v = Verify();
  EXPECT_NE(v.findings[0].explanation.find("2 record(s) deleted"), std::string::npos) << v.findings[0].explanation;
}

TEST_F(AuditTest, SwappedRecordsAreReportedAsReordered) {
  Write(12);
  // Swap every column but the key of records 4 and 8.
  Sql("UPDATE audit_log SET seq = 1004 WHERE seq = 4");
  Sql("UPDATE audit_log SET seq = 4 WHERE seq = 8");
  Sql("UPDATE audit_log SET seq = 8 WHERE seq = 1004");
  ExpectFinding(AuditProblem::kReordered, 4);
}

TEST_F(AuditTest, SwappedContentsAreReportedAsReordered) {
  Write(12);
  ASSERT_TRUE(Verify().ok());
  Sql("CREATE TABLE swap AS SELECT * FROM audit_log WHERE seq IN (3, 6);"
      "UPDATE audit_log SET (time, kind, actor, user_uri, cert_uri, detail, prev_hash, hash, mac) = "
      "(SELECT time, kind, actor, user_uri, cert_uri, detail, prev_hash, hash, mac FROM swap "
      " WHERE swap.seq = 9 - audit_log.seq) WHERE seq IN (3, 6);"
      "DROP TABLE swap;");
  ExpectFinding(AuditProblem::kReordered, 3);
}

TEST_F(AuditTest, ForgedRecordAtTheEndIsReportedAsInserted) {
  Write(12);
  Result<AuditChainTip> tip = store_->Tip("kms-1");
  ASSERT_TRUE(tip.ok());
  AuditRecord forged;
  forged.node = "kms-1";
  forged.seq = 13;
  forged.time = 1764640000;
  forged.kind = "key-set-issued";
  forged.actor = "server";
  forged.user_uri = "sip:ghost@example.org";
  forged.detail = "periods 3905";
  forged.prev_hash = tip->hash;
  forged.hash = ComputeAuditHash(forged);
  Sql("INSERT INTO audit_log VALUES ('kms-1', 13, 1764640000, 'key-set-issued', 'server', 'sip:ghost@example.org', "
      "'', 'periods 3905', x'" + ToHex(forged.prev_hash) + "', x'" + ToHex(forged.hash) + "', randomblob(32))");
  ExpectFinding(AuditProblem::kInserted, 13);
}

TEST_F(AuditTest, ForgedRecordInTheMiddleIsReportedAsInserted) {
  Write(12);
  std::optional<AuditRecord> fifth;
  ASSERT_TRUE(store_->ScanChain("kms-1", 5, [&](const AuditRecord& r) {
    fifth = r;
    return false;
  }).ok());
  ASSERT_TRUE(fifth.has_value());
  Sql("UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 6");
  Sql("UPDATE audit_log SET seq = seq - 999 WHERE seq > 1000");
  AuditRecord forged = *fifth;
  forged.seq = 6;
  forged.user_uri = "sip:ghost@example.org";
  forged.prev_hash = fifth->hash;
  forged.hash = ComputeAuditHash(forged);
  Sql("INSERT INTO audit_log VALUES ('kms-1', 6, " + std::to_string(forged.time) + ", '" + forged.kind + "', '" +
      forged.actor + "', 'sip:ghost@example.org', '" + forged.cert_uri + "', '" + forged.detail + "', x'" +
      ToHex(forged.prev_hash) + "', x'" + ToHex(forged.hash) + "', randomblob(32))");
  ExpectFinding(AuditProblem::kInserted, 6);
}

TEST_F(AuditTest, TruncatedTailIsCaughtOnlyWithAnAnchor) {
  Write(12);
  AuditVerification before = Verify();
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before.tips.size(), 1u);
  Result<AuditAnchor> anchor = ParseAuditAnchor(FormatAuditAnchor(before.tips[0]));
  ASSERT_TRUE(anchor.ok()) << anchor.status().ToString();
  EXPECT_EQ(anchor->tip.seq, 12u);

  Sql("DELETE FROM audit_log WHERE seq > 9");
  EXPECT_TRUE(Verify().ok()) << "without an anchor a cut tail leaves a valid chain (documented)";
  AuditVerification v = Verify({*anchor});
  ASSERT_EQ(v.findings.size(), 1u);
  EXPECT_EQ(v.findings[0].problem, AuditProblem::kTruncated);
  EXPECT_EQ(v.findings[0].seq, 10u);
}

TEST_F(AuditTest, EachNodeHasItsOwnChainAndFindings) {
  Write(5, "kms-1");
  Write(7, "kms-2");
  AuditVerification v = Verify();
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(v.nodes, 2u);
  EXPECT_EQ(v.records, 12u);
  // A record moved to the other node no longer verifies there.
  Sql("UPDATE audit_log SET node = 'kms-1', seq = 6 WHERE node = 'kms-2' AND seq = 7");
  AuditVerification moved = Verify();
  ASSERT_EQ(moved.findings.size(), 1u);
  EXPECT_EQ(moved.findings[0].node, "kms-1");
  EXPECT_EQ(moved.findings[0].seq, 6u);
}

TEST_F(AuditTest, ChainMacedByAnotherKeyDoesNotVerify) {
  Write(3);
  KmsConfig other = MakeKms("other");
  Result<std::unique_ptr<AuditCustody>> other_custody = AuditCustody::Open(other);
  ASSERT_TRUE(other_custody.ok()) << other_custody.status().ToString();
  Result<AuditVerification> v = VerifyAuditChain(*store_, **other_custody);
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->findings.size(), 1u);
  EXPECT_EQ(v->findings[0].seq, 1u);
}

TEST_F(AuditTest, TheStoreIsCreatedOnlyWhenAskedAndIsTheOwnersOnly) {
  Result<std::unique_ptr<AuditStore>> missing = OpenSqliteAuditStore(tmp() / "gone.sqlite");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  EXPECT_NE(missing.status().message().find("gone.sqlite"), std::string::npos) << missing.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(tmp() / "gone.sqlite"));

  SqliteAuditStoreOptions create;
  create.create_if_missing = true;
  const mode_t old_mask = umask(0022);
  Result<std::unique_ptr<AuditStore>> made = OpenSqliteAuditStore(tmp() / "new.sqlite", create);
  umask(old_mask);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ(std::filesystem::status(tmp() / "new.sqlite").permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

}  // namespace
}  // namespace mcx::testing
