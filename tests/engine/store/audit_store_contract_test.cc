// The AuditStore contract, against both stores (as key_store_contract_test.cc): chains per node,
// numbered without gaps and linked, also when two openers (two processes) append to the same
// node at once; a failed seal writes nothing; Scan's filters. The MACs and the verification
// are engine/audit's (tests/engine/audit); here the store only keeps what it is given.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "engine/audit/audit_record.h"
#include "tests/support/store_backends.h"

namespace mcx {
namespace {

using testing::StoreBackend;
using testing::StoreKind;

// Seals `count` records that continue `tip` of `node`, all at `time`.
AuditStore::Sealer Continue(const std::string& node, int count, int64_t time, const std::string& user = "",
                            const std::string& detail = "") {
  return [=](const AuditChainTip& tip) -> Result<std::vector<AuditRecord>> {
    std::vector<AuditRecord> out;
    AuditHash prev = tip.hash;
    for (int i = 0; i < count; ++i) {
      AuditRecord r;
      r.node = node;
      r.seq = tip.seq + 1 + static_cast<uint64_t>(i);
      r.time = time;
      r.kind = "test";
      r.actor = "tester";
      r.user_uri = user;
      r.detail = detail;
      r.prev_hash = prev;
      r.hash = ComputeAuditHash(r);
      r.mac[0] = static_cast<uint8_t>(r.seq);
      prev = r.hash;
      out.push_back(std::move(r));
    }
    return out;
  };
}

class AuditStoreContractTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    if (!backend_.available()) GTEST_SKIP() << testing::kNoPostgresReason;
  }
  std::unique_ptr<AuditStore> Open() {
    Result<std::unique_ptr<AuditStore>> s = backend_.OpenAudit();
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  StoreBackend backend_{GetParam()};
};

TEST_P(AuditStoreContractTest, TwoWritersOfOneNodeBuildOneGaplessLinkedChain) {
  std::unique_ptr<AuditStore> a = Open(), b = Open();
  ASSERT_TRUE(a && b);
  constexpr int kAppends = 30;
  std::atomic<int> ready{0};
  auto write = [&](AuditStore& s) {
    ready.fetch_add(1);
    while (ready.load() < 2) std::this_thread::yield();
    for (int i = 0; i < kAppends; ++i) {
      ASSERT_TRUE(s.Append("node-1", Continue("node-1", 1 + i % 2, 1000 + i)).ok());
      ASSERT_TRUE(s.Append("node-2", Continue("node-2", 1, 1000 + i)).ok());
    }
  };
  std::thread ta([&] { write(*a); });
  std::thread tb([&] { write(*b); });
  ta.join();
  tb.join();
  const uint64_t expected = 2 * (kAppends / 2 + kAppends);  // 1 or 2 records an append, from both writers
  uint64_t seq = 0;
  AuditHash prev{};
  ASSERT_TRUE(a->ScanChain("node-1", 1, [&](const AuditRecord& r) {
    EXPECT_EQ(r.seq, seq + 1);
    EXPECT_EQ(r.prev_hash, prev);
    EXPECT_EQ(r.hash, ComputeAuditHash(r));
    EXPECT_EQ(r.mac[0], static_cast<uint8_t>(r.seq));
    seq = r.seq;
    prev = r.hash;
    return true;
  }).ok());
  EXPECT_EQ(seq, expected);
  Result<AuditChainTip> tip = b->Tip("node-1");
  ASSERT_TRUE(tip.ok());
  EXPECT_EQ(tip->seq, expected);
  EXPECT_EQ(tip->hash, prev);
  EXPECT_EQ(b->Tip("node-2")->seq, 2u * kAppends);
  EXPECT_EQ(b->Tip("nobody")->seq, 0u);
  EXPECT_EQ(*a->Nodes(), (std::vector<std::string>{"node-1", "node-2"}));
  int from_ten = 0;
  ASSERT_TRUE(a->ScanChain("node-2", 10, [&](const AuditRecord&) { return ++from_ten < 5; }).ok());
  EXPECT_EQ(from_ten, 5);  // stopped when the visitor said so
}

TEST_P(AuditStoreContractTest, AFailedSealWritesNothing) {
  std::unique_ptr<AuditStore> s = Open();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->Append("n", Continue("n", 2, 5)).ok());
  Status refused = s->Append("n", [](const AuditChainTip&) -> Result<std::vector<AuditRecord>> {
    return Status::Unavailable("the HSM is gone");
  });
  EXPECT_EQ(refused.code(), Status::Code::kUnavailable);
  EXPECT_NE(refused.message().find("the HSM is gone"), std::string::npos);
  // A record that does not continue the tip is refused by the store (its key), nothing of it kept.
  Status clash = s->Append("n", [](const AuditChainTip& tip) -> Result<std::vector<AuditRecord>> {
    std::vector<AuditRecord> out = *Continue("n", 1, 6)(tip);
    out.push_back(out.back());  // the same seq twice
    return out;
  });
  EXPECT_FALSE(clash.ok());
  EXPECT_EQ(s->Tip("n")->seq, 2u);
  ASSERT_TRUE(s->Append("n", Continue("n", 1, 7)).ok());
  EXPECT_EQ(s->Tip("n")->seq, 3u);
}

TEST_P(AuditStoreContractTest, ScanFiltersByNodeTimeAndUser) {
  std::unique_ptr<AuditStore> s = Open();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->Append("b", Continue("b", 1, 100, "sip:alice@example.org")).ok());
  ASSERT_TRUE(s->Append("a", Continue("a", 1, 200, "sip:bob@example.org")).ok());
  ASSERT_TRUE(s->Append("a", Continue("a", 1, 300, "", "batch: sip:alice@example.org, sip:carol@example.org")).ok());
  ASSERT_TRUE(s->Append("a", Continue("a", 1, 50, "")).ok());
  auto scan = [&](const AuditFilter& f) {
    std::vector<std::string> seen;
    EXPECT_TRUE(s->Scan(f, [&](const AuditRecord& r) {
      seen.push_back(r.node + std::to_string(r.seq));
      return true;
    }).ok());
    return seen;
  };
  EXPECT_EQ(scan({}), (std::vector<std::string>{"a3", "b1", "a1", "a2"}));  // by time, node, seq
  AuditFilter node_a;
  node_a.node = "a";
  EXPECT_EQ(scan(node_a), (std::vector<std::string>{"a3", "a1", "a2"}));
  AuditFilter since;
  since.since = 200;
  EXPECT_EQ(scan(since), (std::vector<std::string>{"a1", "a2"}));
  AuditFilter alice;
  alice.user_uri = "sip:alice@example.org";
  std::vector<std::string> for_alice = scan(alice);
  ASSERT_FALSE(for_alice.empty());
  EXPECT_EQ(for_alice.front(), "b1");
  EXPECT_EQ(std::count(for_alice.begin(), for_alice.end(), "a1"), 0);  // Bob's
}

INSTANTIATE_TEST_SUITE_P(Stores, AuditStoreContractTest, ::testing::Values(StoreKind::kSqlite, StoreKind::kPostgres),
                         [](const ::testing::TestParamInfo<StoreKind>& i) { return testing::StoreKindName(i.param); });

}  // namespace
}  // namespace mcx
