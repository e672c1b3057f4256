// A KMS on a real SoftHSM2 token with its audit key, an audit store on the KMS's SQLite file, and
// helpers to write records, tamper with them by SQL and verify the chain.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "engine/audit/audit_log.h"
#include "engine/audit/audit_verify.h"
#include "engine/custody/audit_custody.h"
#include "engine/store/sqlite_audit_store.h"
#include "tests/support/softhsm_fixture.h"

namespace mcx::testing {

class AuditTest : public SoftHsmTest {
 protected:
  void SetUp() override {
    SoftHsmTest::SetUp();
    config_ = MakeKms("kms");
    Result<std::unique_ptr<AuditCustody>> c = AuditCustody::Open(config_);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    custody_ = std::move(c).value();
    store_ = OpenStore();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    custody_.reset();
    SoftHsmTest::TearDown();
  }

  std::unique_ptr<AuditStore> OpenStore(SqliteAuditStoreOptions options = {}) {
    options.create_if_missing = true;  // a fresh KMS from init has no store yet
    Result<std::unique_ptr<AuditStore>> s = OpenSqliteAuditStore(config_.store_path, options);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  static AuditEvent Event(int i, const std::string& user = "") {
    AuditEvent e;
    e.kind = i % 3 == 0 ? AuditEventKind::kKeySetIssued : i % 3 == 1 ? AuditEventKind::kKeySetDelivered
                                                                     : AuditEventKind::kAdminCommand;
    e.actor = i % 3 == 2 ? "operator" : "server";
    e.user_uri = user.empty() ? "sip:user" + std::to_string(i) + "@example.org" : user;
    e.cert_uri = "kms.example.org/cert-1";
    e.detail = "periods " + std::to_string(3900 + i);
    return e;
  }

  // Records `n` events on `node`, each committed before the next.
  void Write(int n, const std::string& node = "kms-1") {
    AuditLogOptions o;
    o.node = node;
    AuditLog log(*store_, *custody_, o);
    for (int i = 1; i <= n; ++i) ASSERT_TRUE(log.Record(Event(i)).ok());
  }

  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(config_.store_path.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }

  AuditVerification Verify(const std::vector<AuditAnchor>& anchors = {}) {
    Result<AuditVerification> v = VerifyAuditChain(*store_, *custody_, anchors);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : AuditVerification{};
  }

  // Verification finds exactly one bad node, `node`, first wrong at `seq` with `problem`.
  void ExpectFinding(AuditProblem problem, uint64_t seq, const std::string& node = "kms-1") {
    AuditVerification v = Verify();
    ASSERT_EQ(v.findings.size(), 1u);
    const AuditFinding& f = v.findings.front();
    EXPECT_EQ(f.node, node);
    EXPECT_EQ(AuditProblemName(f.problem), std::string(AuditProblemName(problem))) << f.explanation;
    EXPECT_EQ(f.seq, seq) << f.explanation;
    EXPECT_FALSE(f.explanation.empty());
  }

  KmsConfig config_;
  std::unique_ptr<AuditCustody> custody_;
  std::unique_ptr<AuditStore> store_;
};

}  // namespace mcx::testing
