// Events as `audit show` reads them: key-set events name their periods, a batch lists every user
// so each key set stays traceable, and reading by user finds a user inside a batch (and only it).
#include <gtest/gtest.h>

#include "engine/audit/audit_render.h"
#include "tests/engine/audit/audit_test_env.h"

namespace mcx::testing {
namespace {

TEST(AuditEventTest, KindNamesAreStableAndParseBack) {
  EXPECT_STREQ(AuditEventKindName(AuditEventKind::kKmsCreated), "kms-created");
  EXPECT_STREQ(AuditEventKindName(AuditEventKind::kKeySetsIssuedBatch), "key-sets-issued-batch");
  EXPECT_STREQ(AuditEventKindName(AuditEventKind::kRequestRefused), "request-refused");
  for (int k = 0; k <= static_cast<int>(AuditEventKind::kAdminCommand); ++k) {
    const auto kind = static_cast<AuditEventKind>(k);
    std::optional<AuditEventKind> back = ParseAuditEventKind(AuditEventKindName(kind));
    ASSERT_TRUE(back.has_value()) << AuditEventKindName(kind);
    EXPECT_EQ(*back, kind);
  }
  EXPECT_FALSE(ParseAuditEventKind("key-set-stolen").has_value());
}

TEST(AuditEventTest, PeriodsCollapseIntoRuns) {
  EXPECT_EQ(FormatPeriods({3905, 3903, 3904, 3910, 3905}), "3903-3905,3910");
  EXPECT_EQ(FormatPeriods({7}), "7");
  EXPECT_EQ(FormatPeriods({}), "");
}

TEST(AuditEventTest, OneUsersKeySetsAreOneRecordWithTheUser) {
  std::vector<KeySetRef> sets = {{"sip:alice@example.org", 3905}, {"sip:alice@example.org", 3906}};
  AuditEvent e = KeySetsIssued("server", "cert-1", sets);
  EXPECT_EQ(e.kind, AuditEventKind::kKeySetIssued);
  EXPECT_EQ(e.user_uri, "sip:alice@example.org");
  EXPECT_EQ(e.detail, "periods 3905-3906");
  std::vector<ListedKeySets> listed = ListKeySets(e.user_uri, e.detail);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].periods, "3905-3906");
}

TEST(AuditEventTest, ABatchListsEveryUserWithItsPeriods) {
  std::vector<KeySetRef> sets = {{"sip:bob@example.org", 3905},   {"sip:alice@example.org", 3905},
                                 {"sip:bob@example.org", 3906},   {"sip:bobby@example.org", 3905},
                                 {"sip:alice@example.org", 3907}};
  AuditEvent e = KeySetsIssued("operator", "cert-1", sets);
  EXPECT_EQ(e.kind, AuditEventKind::kKeySetsIssuedBatch);
  EXPECT_TRUE(e.user_uri.empty());
  EXPECT_EQ(e.detail,
            "sip:alice@example.org periods 3905,3907\nsip:bob@example.org periods 3905-3906\n"
            "sip:bobby@example.org periods 3905");
  EXPECT_TRUE(ConcernsUser(e.user_uri, e.detail, "sip:bob@example.org"));
  EXPECT_TRUE(ConcernsUser(e.user_uri, e.detail, "sip:alice@example.org"));
  EXPECT_FALSE(ConcernsUser(e.user_uri, e.detail, "sip:bo@example.org"));
  EXPECT_FALSE(ConcernsUser(e.user_uri, e.detail, "sip:carol@example.org"));
  EXPECT_EQ(ListKeySets(e.user_uri, e.detail).size(), 3u);

  AuditEvent d = KeySetsDelivered("server", "cert-1", sets);
  EXPECT_EQ(d.kind, AuditEventKind::kKeySetDelivered);
  EXPECT_TRUE(ConcernsUser(d.user_uri, d.detail, "sip:bobby@example.org"));
}

TEST(AuditEventTest, AUriWithWhiteSpaceCannotForgeABatchLine) {
  std::vector<KeySetRef> sets = {{"sip:eve@x periods 1\nsip:alice@example.org", 1}, {"sip:b@x", 2}};
  AuditEvent e = KeySetsIssued("server", "cert-1", sets);
  EXPECT_FALSE(ConcernsUser(e.user_uri, e.detail, "sip:alice@example.org")) << e.detail;
  EXPECT_EQ(ListKeySets(e.user_uri, e.detail).size(), 2u);
}

TEST(AuditRenderTest, TimesFormatAndParse) {
  EXPECT_EQ(FormatAuditTime(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatAuditTime(1764640983), "2025-12-02T02:03:03Z");
  EXPECT_EQ(*ParseAuditTime("2025-12-02T02:03:03Z"), 1764640983);
  EXPECT_EQ(*ParseAuditTime("2025-12-02 02:03:03"), 1764640983);
  EXPECT_EQ(*ParseAuditTime("2025-12-02"), 1764633600);
  EXPECT_EQ(*ParseAuditTime("1764640983"), 1764640983);
  EXPECT_FALSE(ParseAuditTime("2025-13-02").ok());
  EXPECT_FALSE(ParseAuditTime("yesterday").ok());
  EXPECT_FALSE(ParseAuditTime("2025-12-02T02:03:03+01:00").ok());
}

TEST(AuditRenderTest, ABatchShowsItsUsersOrOnlyTheOneAskedFor) {
  AuditRecord r;
  r.node = "kms-1";
  r.seq = 42;
  r.time = 1764640983;
  r.kind = "key-sets-issued-batch";
  r.actor = "operator";
  r.cert_uri = "cert-1";
  r.detail = "sip:alice@example.org periods 3905,3907\nsip:bob@example.org periods 3905-3906";
  EXPECT_EQ(RenderAuditRecord(r),
            "2025-12-02T02:03:03Z  kms-1#42  key-sets-issued-batch  batch of 2 user(s)  cert cert-1  by operator\n"
            "    user sip:alice@example.org  periods 3905,3907\n"
            "    user sip:bob@example.org  periods 3905-3906\n");
  EXPECT_EQ(RenderAuditRecord(r, "sip:bob@example.org"),
            "2025-12-02T02:03:03Z  kms-1#42  key-sets-issued-batch  batch of 2 user(s)  cert cert-1  by operator\n"
            "    user sip:bob@example.org  periods 3905-3906\n");
  r.kind = "key-set-issued";
  r.user_uri = "sip:carol@example.org";
  r.detail = "periods 3905";
  EXPECT_EQ(RenderAuditRecord(r),
            "2025-12-02T02:03:03Z  kms-1#42  key-set-issued  user sip:carol@example.org  periods 3905  cert cert-1  "
            "by operator\n");
}

TEST_F(AuditTest, ReadingByUserFindsItInsideABatchAndSinceFilters) {
  AuditLogOptions o;
  o.node = "kms-1";
  {
    AuditLog log(*store_, *custody_, o);
    std::vector<KeySetRef> bulk;
    for (int u = 0; u < 50; ++u) {
      for (uint64_t p = 3905; p < 3908; ++p) bulk.push_back({"sip:r" + std::to_string(u) + "@example.org", p});
    }
    ASSERT_TRUE(log.Record(KeySetsIssued("operator", "cert-1", bulk)).ok());
    std::vector<KeySetRef> one = {{"sip:r7@example.org", 3905}};
    ASSERT_TRUE(log.Record(KeySetsDelivered("server", "cert-1", one)).ok());
    ASSERT_TRUE(log.Record(Event(1, "sip:other@example.org")).ok());
  }
  std::vector<AuditRecord> found;
  AuditFilter f;
  f.user_uri = "sip:r7@example.org";
  ASSERT_TRUE(store_->Scan(f, [&](const AuditRecord& r) {
    found.push_back(r);
    return true;
  }).ok());
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].kind, "key-sets-issued-batch");
  EXPECT_EQ(found[1].kind, "key-set-delivered");
  const std::string shown = RenderAuditRecord(found[0], f.user_uri);
  EXPECT_NE(shown.find("    user sip:r7@example.org  periods 3905-3907\n"), std::string::npos) << shown;
  EXPECT_EQ(shown.find("sip:r17@"), std::string::npos) << "only the user asked for";

  f.user_uri = "sip:r@example.org";  // a prefix of nobody's URI in the batch
  size_t n = 0;
  ASSERT_TRUE(store_->Scan(f, [&](const AuditRecord&) { return ++n, true; }).ok());
  EXPECT_EQ(n, 0u);

  AuditFilter later;
  later.since = found[0].time + 3600;
  n = 0;
  ASSERT_TRUE(store_->Scan(later, [&](const AuditRecord&) { return ++n, true; }).ok());
  EXPECT_EQ(n, 0u);
  later.since = found[0].time;
  ASSERT_TRUE(store_->Scan(later, [&](const AuditRecord&) { return ++n, true; }).ok());
  EXPECT_EQ(n, 3u);
}

}  // namespace
}  // namespace mcx::testing
