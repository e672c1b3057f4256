// The KeyStore and LifecycleStore contract, run against both stores: SQLite (always) and
// PostgreSQL (when tests/support/with_postgres.sh started a server for the run: ctest's test
// store_postgres; otherwise those cases skip, saying so). Cases only one store has (file modes,
// a read-only file) are in sqlite_key_store_test.cc.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "base/pooled_random.h"
#include "engine/keys/client_check.h"
#include "tests/support/store_backends.h"
#include "tests/support/test_kms.h"
#include "tests/support/test_store.h"

namespace mcx {
namespace {

using testing::StoreBackend;
using testing::StoreKind;

class KeyStoreContractTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    if (!backend_.available()) GTEST_SKIP() << testing::kNoPostgresReason;
    SecretBytes key(kDataKeyBytes);
    ASSERT_TRUE(OpenSslRandom().Fill(key.span()).ok());
    cipher_ = std::make_unique<KeySetCipher>(std::move(key), testing::kTestCertUri);
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }
  std::unique_ptr<KeyStore> Open() {
    Result<std::unique_ptr<KeyStore>> s = backend_.Open(testing::kTestCertUri);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  KeySet Issue(const std::string& uri, uint64_t period) {
    OpenSslRandom rng;
    Result<KeySet> ks = kms_.deriver->Derive(uri, period, rng);
    EXPECT_TRUE(ks.ok());
    return std::move(ks).value();
  }

  static testing::TestKms kms_;
  StoreBackend backend_{GetParam()};
  std::unique_ptr<KeySetCipher> cipher_;
  std::unique_ptr<KeyStore> store_;
};
testing::TestKms KeyStoreContractTest::kms_;

TEST_P(KeyStoreContractTest, StoredKeySetOpensToTheSameKeysAndValidates) {
  KeySet ks = Issue("sip:alice@example.org", 1500);
  Result<SealedKeySet> sealed = cipher_->Seal(ks);
  ASSERT_TRUE(sealed.ok());
  ASSERT_EQ(*store_->InsertBatch(std::span<const SealedKeySet>(&*sealed, 1)), 1u);

  Result<std::optional<SealedKeySet>> found = store_->Find("sip:alice@example.org", 1500);
  ASSERT_TRUE(found.ok() && found->has_value());
  Result<KeySet> opened = cipher_->Open(**found);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_TRUE(ConstantTimeEqual(opened->rsk.view(), ks.rsk.view()));
  EXPECT_TRUE(ConstantTimeEqual(opened->ssk.view(), ks.ssk.view()));
  EXPECT_EQ(opened->pvt, ks.pvt);
  EXPECT_EQ(opened->period.valid_to, ks.period.valid_to);
  EXPECT_TRUE(CheckKeySet(kms_.pub, *opened).ok());
  EXPECT_FALSE(store_->Find("sip:alice@example.org", 1501)->has_value());
  EXPECT_FALSE(store_->Find("sip:bob@example.org", 1500)->has_value());
}

TEST_P(KeyStoreContractTest, ExistingKeySetsAreNeverReplaced) {
  KeySet first = Issue("sip:alice@example.org", 1500);
  KeySet second = Issue("sip:alice@example.org", 1500);  // same identity, another v
  ASSERT_NE(first.pvt, second.pvt);
  Result<SealedKeySet> a = store_->InsertOrGet(*cipher_->Seal(first));
  Result<SealedKeySet> b = store_->InsertOrGet(*cipher_->Seal(second));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(b->pvt, first.pvt);  // the first one issued wins
  std::vector<SealedKeySet> batch{*cipher_->Seal(second), *cipher_->Seal(Issue("sip:bob@example.org", 1500))};
  EXPECT_EQ(*store_->InsertBatch(batch), 1u);
  EXPECT_EQ(*store_->CountKeySets(), 2u);
  std::vector<std::string> ask = {"sip:bob@example.org", "sip:carol@example.org", "sip:alice@example.org",
                                  "sip:bob@example.org"};
  Result<std::vector<bool>> present = store_->ContainsMany(ask, 1500);
  ASSERT_TRUE(present.ok());
  EXPECT_EQ(*present, (std::vector<bool>{true, false, true, true}));
  EXPECT_EQ(*store_->ContainsMany(ask, 1501), (std::vector<bool>{false, false, false, false}));
  std::vector<std::string> scanned;
  ASSERT_TRUE(store_->ScanKeySets([&](const SealedKeySet& r) {
    scanned.push_back(r.user_uri);
    return cipher_->Open(r).status();
  }).ok());
  EXPECT_EQ(scanned, (std::vector<std::string>{"sip:alice@example.org", "sip:bob@example.org"}));
}

// A bulk batch larger than one INSERT statement, URIs that need quoting, a scan in pages.
TEST_P(KeyStoreContractTest, LargeBatchesAreAllOrNothingAndScanInKeyOrder) {
  KeySet proto = Issue("sip:proto@example.org", 1500);
  std::vector<SealedKeySet> batch;
  std::vector<std::string> uris;
  for (int i = 0; i < 1300; ++i) {
    SealedKeySet r = *cipher_->Seal(proto);
    r.user_uri = "sip:u\"" + std::to_string(10000 + i) + "\\,{x}@example.org";
    uris.push_back(r.user_uri);
    batch.push_back(std::move(r));
  }
  ASSERT_EQ(*store_->InsertBatch(batch), 1300u);
  EXPECT_EQ(*store_->InsertBatch(batch), 0u);
  Result<std::vector<bool>> present = store_->ContainsMany(uris, 1500);
  ASSERT_TRUE(present.ok()) << present.status().ToString();
  EXPECT_EQ(std::count(present->begin(), present->end(), true), 1300);
  std::vector<std::string> scanned;
  ASSERT_TRUE(store_->ScanKeySets([&](const SealedKeySet& r) {
    scanned.push_back(r.user_uri);
    return Status::Ok();
  }).ok());
  EXPECT_EQ(scanned, uris);  // byte order, which the numbering above follows
  EXPECT_EQ(store_->ScanKeySets([](const SealedKeySet&) { return Status::NotFound("stop"); }).code(),
            Status::Code::kNotFound);
  EXPECT_TRUE(store_->Ping().ok());  // the store is usable after a scan stopped early
}

TEST_P(KeyStoreContractTest, MarkDeliveredChangesOnlyIssuedKeySetsAndReportsTheFirstDeliveries) {
  for (const char* u : {"sip:a@example.org", "sip:b@example.org", "sip:c@example.org"}) {
    ASSERT_TRUE(store_->InsertOrGet(*cipher_->Seal(Issue(u, 1500))).ok());
  }
  ASSERT_TRUE(store_->SetState("sip:c@example.org", 1500, KeySetState::kRevoked).ok());
  std::vector<KeySetRef> keys = {{"sip:b@example.org", 1500}, {"sip:a@example.org", 1500},
                                 {"sip:c@example.org", 1500}, {"sip:none@example.org", 1500},
                                 {"sip:b@example.org", 1500}};
  std::vector<KeySetRef> first;
  Result<size_t> n = store_->MarkDelivered(keys, 1700000000, &first);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(first, (std::vector<KeySetRef>{{"sip:b@example.org", 1500}, {"sip:a@example.org", 1500}}));
  EXPECT_EQ(*store_->MarkDelivered(keys, 1700000001, &first), 0u);
  EXPECT_TRUE(first.empty());
  KeySetCounts counts = *store_->CountByState();
  EXPECT_EQ(counts.issued, 0u);
  EXPECT_EQ(counts.delivered, 2u);
  EXPECT_EQ(counts.revoked, 1u);
  // Find reads the marks with the record (StoredKeyService does not mark a delivered one again).
  const SealedKeySet a = **store_->Find("sip:a@example.org", 1500), c = **store_->Find("sip:c@example.org", 1500);
  EXPECT_TRUE(a.delivered);
  EXPECT_FALSE(a.revoked);
  EXPECT_TRUE(c.revoked);
  EXPECT_FALSE(c.delivered);
  const KeySetRef both[] = {{"sip:a@example.org", 1500}, {"sip:c@example.org", 1500}};
  Result<std::vector<std::optional<SealedKeySet>>> many = store_->FindMany(both);
  ASSERT_TRUE(many.ok()) << many.status().ToString();
  EXPECT_TRUE((*many)[0]->delivered && !(*many)[0]->revoked);
  EXPECT_TRUE((*many)[1]->revoked && !(*many)[1]->delivered);
}

// A summary of a Find's answer, to compare answers: "absent", or the record's key, nonce and mark.
std::string Answer(const Result<std::optional<SealedKeySet>>& r) {
  if (!r.ok()) return "error: " + r.status().ToString();
  if (!r->has_value()) return "absent";
  const SealedKeySet& s = **r;
  return s.user_uri + "/" + std::to_string(s.period.number) + "/" + std::to_string(s.period.valid_to) + "/" +
         ToHex(ByteView(s.nonce.data(), s.nonce.size())) + "/" + ToHex(ByteView(s.sealed.data(), 8)) + (s.revoked ? "/revoked" : "") +
         (s.delivered ? "/delivered" : "");
}

// FindMany (one query for many keys on PostgreSQL, which StoredKeyService gathers lookups into)
// must give each key its own row, absent ones and revoked marks included, as Find does; and Finds
// from many threads at once must too.
TEST_P(KeyStoreContractTest, FindManyAndConcurrentFindsGetWhatSingleFindsGet) {
  KeySet proto = Issue("sip:proto@example.org", 1500);
  std::vector<SealedKeySet> batch;
  for (int i = 0; i < 40; ++i) {
    SealedKeySet r = *cipher_->Seal(proto);  // a fresh nonce each: the rows differ
    r.user_uri = "sip:u" + std::to_string(i) + "@example.org";
    r.period.number = 1500 + static_cast<uint64_t>(i % 2);
    batch.push_back(std::move(r));
  }
  ASSERT_EQ(*store_->InsertBatch(batch), 40u);
  ASSERT_TRUE(store_->SetState("sip:u7@example.org", 1501, KeySetState::kRevoked).ok());
  // Present, absent (no such user; a user's other period) and revoked keys.
  std::vector<KeySetRef> keys;
  for (int i = 0; i < 48; ++i) keys.push_back({"sip:u" + std::to_string(i) + "@example.org", 1500 + uint64_t(i % 2)});
  for (int i = 0; i < 8; ++i) keys.push_back({"sip:u" + std::to_string(i) + "@example.org", 1501 - uint64_t(i % 2)});
  std::vector<std::string> alone;
  for (const KeySetRef& k : keys) alone.push_back(Answer(store_->Find(k.user_uri, k.key_period_no)));
  EXPECT_EQ(std::count(alone.begin(), alone.end(), "absent"), 16);
  EXPECT_EQ(std::count_if(alone.begin(), alone.end(), [](const std::string& a) { return a.ends_with("/revoked"); }), 1);

  std::vector<KeySetRef> twice(keys.rbegin(), keys.rend());
  twice.insert(twice.end(), keys.begin(), keys.end());
  Result<std::vector<std::optional<SealedKeySet>>> many = store_->FindMany(twice);
  ASSERT_TRUE(many.ok()) << many.status().ToString();
  ASSERT_EQ(many->size(), twice.size());
  for (size_t i = 0; i < twice.size(); ++i) {
    const size_t k = i < keys.size() ? keys.size() - 1 - i : i - keys.size();
    EXPECT_EQ(Answer(std::optional<SealedKeySet>((*many)[i])), alone[k]) << i;
  }
  EXPECT_TRUE(store_->FindMany({})->empty());

  // 16 threads, each asking every key many times in its own order, so the calls overlap.
  std::atomic<int> mismatches{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        for (size_t j = 0; j < keys.size(); ++j) {
          const size_t k = (j * 7 + static_cast<size_t>(t) * 5 + static_cast<size_t>(round)) % keys.size();
          Result<std::optional<SealedKeySet>> r = store_->Find(keys[k].user_uri, keys[k].key_period_no);
          if (!r.ok()) ++errors;
          else if (Answer(r) != alone[k]) ++mismatches;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_P(KeyStoreContractTest, SecretsAreNotInTheDatabaseInTheClear) {
  KeySet ks = Issue("sip:alice@example.org", 1500);
  ASSERT_TRUE(store_->InsertOrGet(*cipher_->Seal(ks)).ok());
  store_.reset();  // SQLite: checkpoint and close
  EXPECT_TRUE(backend_.RawContains(ks.pvt));  // the PVT is public and stored in the clear: the search works
  EXPECT_FALSE(backend_.RawContains(ByteView(ks.rsk.data() + 1, 64)));
  EXPECT_FALSE(backend_.RawContains(ks.ssk.view()));
}

TEST_P(KeyStoreContractTest, RowMovedToAnotherUserIsDetectedOnRead) {
  ASSERT_TRUE(store_->InsertOrGet(*cipher_->Seal(Issue("sip:alice@example.org", 1500))).ok());
  KeySet bob = Issue("sip:bob@example.org", 1500);
  ASSERT_TRUE(store_->InsertOrGet(*cipher_->Seal(bob)).ok());
  const std::string give =
      "UPDATE key_sets SET sealed = (SELECT sealed FROM key_sets WHERE user_uri = 'sip:alice@example.org'), "
      "nonce = (SELECT nonce FROM key_sets WHERE user_uri = 'sip:alice@example.org') "
      "WHERE user_uri = 'sip:bob@example.org'";
  backend_.Tamper(give, give);
  Result<KeySet> opened = cipher_->Open(**store_->Find("sip:bob@example.org", 1500));
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Status::Code::kDataLoss);
  const std::string rename =
      "UPDATE key_sets SET user_uri = 'sip:mallory@example.org' WHERE user_uri = 'sip:alice@example.org'";
  backend_.Tamper(rename, rename);
  EXPECT_EQ(cipher_->Open(**store_->Find("sip:mallory@example.org", 1500)).status().code(), Status::Code::kDataLoss);
  const std::string move = "UPDATE key_sets SET key_period_no = 1501 WHERE user_uri = 'sip:mallory@example.org'";
  backend_.Tamper(move, move);
  EXPECT_EQ(cipher_->Open(**store_->Find("sip:mallory@example.org", 1501)).status().code(), Status::Code::kDataLoss);
}

TEST_P(KeyStoreContractTest, FlippedCiphertextByteIsDetected) {
  ASSERT_TRUE(store_->InsertOrGet(*cipher_->Seal(Issue("sip:alice@example.org", 1500))).ok());
  Result<std::optional<SealedKeySet>> before = store_->Find("sip:alice@example.org", 1500);
  ASSERT_TRUE(before.ok() && before->has_value());
  backend_.Tamper("UPDATE key_sets SET sealed = CAST((CASE WHEN substr(sealed, 1, 1) = X'00' THEN X'01' ELSE X'00' "
                  "END) || substr(sealed, 2) AS BLOB)",
                  "UPDATE key_sets SET sealed = set_byte(sealed, 0, get_byte(sealed, 0) # 1)");
  Result<std::optional<SealedKeySet>> after = store_->Find("sip:alice@example.org", 1500);
  ASSERT_TRUE(after.ok() && after->has_value());
  ASSERT_NE((*after)->sealed, (*before)->sealed) << "the tamper must change the stored ciphertext";
  EXPECT_EQ(cipher_->Open(**after).status().code(), Status::Code::kDataLoss);
}

TEST_P(KeyStoreContractTest, AnotherDataKeyCannotOpenRecords) {
  ASSERT_TRUE(store_->InsertOrGet(*cipher_->Seal(Issue("sip:alice@example.org", 1500))).ok());
  SecretBytes other(kDataKeyBytes);
  ASSERT_TRUE(OpenSslRandom().Fill(other.span()).ok());
  KeySetCipher wrong(std::move(other), testing::kTestCertUri);
  EXPECT_EQ(wrong.Open(**store_->Find("sip:alice@example.org", 1500)).status().code(), Status::Code::kDataLoss);
}

TEST_P(KeyStoreContractTest, StateSurvivesReopenAndBlobsRoundTrip) {
  ASSERT_TRUE(store_->PutBlob("certificate", AsBytes("public things")).ok());
  ASSERT_TRUE(store_->InsertOrGet(*cipher_->Seal(Issue("sip:alice@example.org", 1500))).ok());
  ASSERT_TRUE(store_->SetState("sip:alice@example.org", 1500, KeySetState::kDelivered).ok());
  EXPECT_EQ(store_->SetState("sip:nobody@example.org", 1500, KeySetState::kRevoked).code(), Status::Code::kNotFound);
  const std::pair<std::string_view, ByteView> two[] = {{"a", AsBytes("1")}, {"b", AsBytes("2")}};
  ASSERT_TRUE(store_->PutBlobs(two).ok());
  ASSERT_TRUE(store_->PutBlob("a", AsBytes("replaced")).ok());
  store_.reset();
  std::unique_ptr<KeyStore> again = Open();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(*again->CountKeySets(), 1u);
  EXPECT_EQ(again->CountByState()->delivered, 1u);
  Result<std::optional<Bytes>> blob = again->GetBlob("certificate");
  ASSERT_TRUE(blob.ok() && blob->has_value());
  EXPECT_EQ(std::string((*blob)->begin(), (*blob)->end()), "public things");
  EXPECT_EQ(**again->GetBlob("a"), Bytes(AsBytes("replaced").begin(), AsBytes("replaced").end()));
  EXPECT_EQ(**again->GetBlob("b"), Bytes{'2'});
  EXPECT_FALSE(again->GetBlob("missing")->has_value());
  Result<Bytes> first = again->PutBlobIfAbsent("data-key", AsBytes("first"));
  Result<Bytes> second = again->PutBlobIfAbsent("data-key", AsBytes("second"));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(std::string(second->begin(), second->end()), "first");
  EXPECT_TRUE(again->Ping().ok());
  // Another certificate's key sets are apart from these, in the same store.
  std::unique_ptr<KeyStore> other = again->ForCertificate("other.example.org.cert");
  EXPECT_EQ(*other->CountKeySets(), 0u);
  EXPECT_FALSE(other->Find("sip:alice@example.org", 1500)->has_value());
  EXPECT_EQ(**other->GetBlob("certificate"), (**again->GetBlob("certificate")));
}

TEST_P(KeyStoreContractTest, NewerSchemaIsRefusedWithAClearError) {
  store_.reset();
  backend_.Tamper("PRAGMA user_version = 99", "UPDATE store_schema SET version = 99");
  Result<std::unique_ptr<KeyStore>> s = backend_.Open(testing::kTestCertUri);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("upgrade mcx-kms"), std::string::npos) << s.status().ToString();
}

// Several processes opening a fresh store at once (replicas starting together, a command beside a
// starting server): each opener has its own connections, as a process would; the schema is made
// once (under SQLite's exclusive transaction, PostgreSQL's advisory lock) and all of them start.
TEST_P(KeyStoreContractTest, StoresOpenedTogetherMigrateOnceAndAllStart) {
  for (int round = 0; round < 3; ++round) {
    StoreBackend fresh(GetParam());
    constexpr int kOpeners = 8;
    std::atomic<int> ready{0};
    std::vector<Status> results(kOpeners);
    std::vector<std::thread> threads;
    for (int i = 0; i < kOpeners; ++i) {
      threads.emplace_back([&, i] {
        ready.fetch_add(1);
        while (ready.load() < kOpeners) std::this_thread::yield();
        results[static_cast<size_t>(i)] = fresh.Open(testing::kTestCertUri).status();
      });
    }
    for (std::thread& t : threads) t.join();
    for (const Status& st : results) EXPECT_TRUE(st.ok()) << st.ToString();
    Result<std::unique_ptr<KeyStore>> store = fresh.Open(testing::kTestCertUri);
    ASSERT_TRUE(store.ok());
    EXPECT_EQ(*(*store)->lifecycle().CacheNum(), 1u);  // the counters were made once
  }
}

// The race of two replicas answering the same first request for a (user, period): each derives
// its own key set (another random v) and offers it; the store keeps one, and both hand out that
// one. The stores are opened separately, with connections of their own, as two processes'.
TEST_P(KeyStoreContractTest, TwoStoresAnsweringTheSameFirstRequestHandOutOneKeySet) {
  std::unique_ptr<KeyStore> replica_a = Open(), replica_b = Open();
  ASSERT_TRUE(replica_a && replica_b);
  constexpr int kUsers = 40;
  std::vector<SealedKeySet> offers_a, offers_b;
  for (int i = 0; i < kUsers; ++i) {
    const std::string uri = "sip:race" + std::to_string(i) + "@example.org";
    offers_a.push_back(*cipher_->Seal(Issue(uri, 1500)));
    offers_b.push_back(*cipher_->Seal(Issue(uri, 1500)));
    ASSERT_NE(offers_a.back().pvt, offers_b.back().pvt);
  }
  std::vector<Result<SealedKeySet>> got_a(kUsers, Status::Internal("not run")), got_b(kUsers, Status::Internal("not run"));
  std::atomic<int> ready{0};
  auto answer = [&](KeyStore& s, const std::vector<SealedKeySet>& offers, std::vector<Result<SealedKeySet>>& got) {
    ready.fetch_add(1);
    while (ready.load() < 2) std::this_thread::yield();
    for (int i = 0; i < kUsers; ++i) got[static_cast<size_t>(i)] = s.InsertOrGet(offers[static_cast<size_t>(i)]);
  };
  std::thread ta([&] { answer(*replica_a, offers_a, got_a); });
  std::thread tb([&] { answer(*replica_b, offers_b, got_b); });
  ta.join();
  tb.join();
  EXPECT_EQ(*store_->CountKeySets(), static_cast<uint64_t>(kUsers));
  for (int i = 0; i < kUsers; ++i) {
    const size_t k = static_cast<size_t>(i);
    ASSERT_TRUE(got_a[k].ok() && got_b[k].ok()) << got_a[k].status().ToString() << got_b[k].status().ToString();
    Result<std::optional<SealedKeySet>> stored = store_->Find(offers_a[k].user_uri, 1500);
    ASSERT_TRUE(stored.ok() && stored->has_value());
    EXPECT_EQ(got_a[k]->pvt, (*stored)->pvt);
    EXPECT_EQ(got_b[k]->pvt, (*stored)->pvt);
    EXPECT_EQ(got_a[k]->sealed, got_b[k]->sealed);
    EXPECT_TRUE(cipher_->Open(*got_a[k]).ok());
  }
}

// The lifecycle tables: every change moves the generation, a change to the certificates served
// moves CacheNum too, and a revoked user's key sets of the periods from then on are marked.
TEST_P(KeyStoreContractTest, LifecycleChangesMoveTheCountersAndMarkKeySets) {
  LifecycleStore& life = store_->lifecycle();
  const uint64_t cache0 = *life.CacheNum(), gen0 = *life.Generation();
  StoredCertificate own;
  own.cert_uri = testing::kTestCertUri;
  own.record = {1, 2, 3};
  own.sealed_z = {4, 5};
  own.valid_from = 100;
  own.valid_to = 200;
  ASSERT_TRUE(life.AddCertificate(own).ok());
  EXPECT_EQ(life.AddCertificate(own).code(), Status::Code::kAlreadyExists);
  EXPECT_EQ(*life.CacheNum(), cache0 + 1);
  StoredCertificate other = own;
  other.cert_uri = "other.example.net.cert";
  other.own = false;
  other.sealed_z.clear();
  ASSERT_TRUE(life.AddCertificate(other).ok());
  Result<std::vector<StoredCertificate>> listed = life.ListCertificates();
  ASSERT_TRUE(listed.ok() && listed->size() == 2u);
  EXPECT_EQ((*listed)[0].cert_uri, own.cert_uri);  // in the order added
  EXPECT_TRUE((*listed)[0].own);
  EXPECT_EQ((*listed)[0].record, own.record);
  EXPECT_EQ((*listed)[0].sealed_z, own.sealed_z);
  EXPECT_TRUE((*listed)[0].sealed_ksak.empty());
  EXPECT_EQ((*listed)[0].valid_to, 200u);
  EXPECT_GT((*listed)[0].added_at, 1700000000);
  EXPECT_FALSE((*listed)[1].own);
  EXPECT_EQ(life.RemoveImportedCertificate(own.cert_uri).code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE(life.RemoveImportedCertificate(other.cert_uri).ok());
  EXPECT_EQ(life.RemoveImportedCertificate(other.cert_uri).code(), Status::Code::kNotFound);
  EXPECT_EQ(*life.CacheNum(), cache0 + 3);

  // A user revoked from the start of period 1501 keeps period 1500 and loses 1501 and 1502.
  for (uint64_t p : {1500u, 1501u, 1502u}) {
    ASSERT_TRUE(store_->InsertOrGet(*cipher_->Seal(Issue("sip:lost@example.org", p))).ok());
  }
  Result<std::optional<SealedKeySet>> p1501 = store_->Find("sip:lost@example.org", 1501);
  ASSERT_TRUE(p1501.ok() && p1501->has_value());
  Result<size_t> marked = life.RevokeUser("sip:lost@example.org", (*p1501)->period.valid_from);
  ASSERT_TRUE(marked.ok()) << marked.status().ToString();
  EXPECT_EQ(*marked, 2u);
  EXPECT_FALSE((*store_->Find("sip:lost@example.org", 1500))->revoked);
  EXPECT_TRUE((*store_->Find("sip:lost@example.org", 1501))->revoked);
  EXPECT_TRUE((*store_->Find("sip:lost@example.org", 1502))->revoked);
  EXPECT_EQ(*life.CacheNum(), cache0 + 3);  // users are not certificates
  // A later revocation keeps the earlier time.
  ASSERT_TRUE(life.RevokeUser("sip:lost@example.org", (*p1501)->period.valid_to).ok());
  Result<std::vector<UserRevocation>> revoked = life.ListRevokedUsers();
  ASSERT_TRUE(revoked.ok() && revoked->size() == 1u);
  EXPECT_EQ((*revoked)[0].from, (*p1501)->period.valid_from);
  EXPECT_TRUE(*life.ReinstateUser("sip:lost@example.org"));
  EXPECT_FALSE(*life.ReinstateUser("sip:lost@example.org"));
  EXPECT_TRUE((*store_->Find("sip:lost@example.org", 1501))->revoked);  // stays revoked

  EXPECT_TRUE(*life.RevokeCertificate(own.cert_uri));
  EXPECT_FALSE(*life.RevokeCertificate(own.cert_uri));
  EXPECT_EQ(life.RevokeCertificate("no.such.cert").status().code(), Status::Code::kNotFound);
  EXPECT_TRUE((*store_->Find("sip:lost@example.org", 1500))->revoked);  // every key set under it
  EXPECT_EQ(*life.ExpireCertificates(150), 0u);
  EXPECT_EQ(*life.ExpireCertificates(201), 1u);
  EXPECT_TRUE((*life.ListCertificates())[0].expired);
  EXPECT_EQ(*life.CacheNum(), cache0 + 5);
  EXPECT_EQ(*life.Generation(), gen0 + 8);  // every change above, the refused ones excepted

  // Another opener of the store (another process) sees the same lifecycle.
  std::unique_ptr<KeyStore> elsewhere = Open();
  ASSERT_NE(elsewhere, nullptr);
  EXPECT_EQ(*elsewhere->lifecycle().Generation(), gen0 + 8);
  EXPECT_EQ(elsewhere->lifecycle().ListCertificates()->size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Stores, KeyStoreContractTest, ::testing::Values(StoreKind::kSqlite, StoreKind::kPostgres),
                         [](const ::testing::TestParamInfo<StoreKind>& i) { return testing::StoreKindName(i.param); });

}  // namespace
}  // namespace mcx
