// PooledRandom: every octet the generator gives is handed out once, in order, whichever sources
// and threads share the pools; a pool stays with its source; big requests bypass it; a failing
// generator is an error, not a short or repeated draw.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "base/pooled_random.h"

namespace mcx {
namespace {

// A generator that writes consecutive 64-bit counter values, so a draw shows exactly which of the
// generator's octets it got.
class CountingSource final : public PooledRandom {
 public:
  explicit CountingSource(size_t pool_bytes) : PooledRandom(pool_bytes) {}
  std::atomic<bool> fail{false};

 protected:
  Status Refill(std::span<uint8_t> out) override {
    if (fail) return Status::Unavailable("the test generator is switched off");
    EXPECT_EQ(out.size() % 8, 0u);
    for (size_t i = 0; i < out.size(); i += 8) {
      const uint64_t v = next_.fetch_add(1);
      std::memcpy(out.data() + i, &v, 8);
    }
    return Status::Ok();
  }

 private:
  std::atomic<uint64_t> next_{0};
};

uint64_t DrawWord(PooledRandom& r) {
  uint64_t v = 0;
  EXPECT_TRUE(r.Fill({reinterpret_cast<uint8_t*>(&v), sizeof v}).ok());
  return v;
}

TEST(PooledRandomTest, SmallDrawsComeFromThePoolInOrder) {
  CountingSource source(256);  // 32 words per refill
  for (uint64_t i = 0; i < 100; ++i) ASSERT_EQ(DrawWord(source), i);
  EXPECT_EQ(source.refills(), 4u);  // 100 words from pools of 32
}

TEST(PooledRandomTest, EachSourceKeepsItsOwnPoolOnAThread) {
  CountingSource a(256), b(256);
  for (uint64_t i = 0; i < 50; ++i) {
    ASSERT_EQ(DrawWord(a), i);
    ASSERT_EQ(DrawWord(b), i);
  }
  EXPECT_EQ(a.refills(), 2u);  // alternating did not evict either pool
  EXPECT_EQ(b.refills(), 2u);
}

TEST(PooledRandomTest, MoreSourcesThanSlotsStillNeverRepeatAnOctet) {
  std::vector<std::unique_ptr<CountingSource>> sources;
  for (int s = 0; s < 6; ++s) sources.push_back(std::make_unique<CountingSource>(256));
  std::vector<std::set<uint64_t>> seen(sources.size());
  for (int round = 0; round < 40; ++round) {
    for (size_t s = 0; s < sources.size(); ++s) {
      const uint64_t v = DrawWord(*sources[s]);
      ASSERT_TRUE(seen[s].insert(v).second) << "source " << s << " repeated word " << v;
    }
  }
  // Six sources rotating through four slots evict each other: the discarded rest of a pool is
  // never served again, so more refills happen, but no word comes twice.
  EXPECT_GT(sources[0]->refills(), 2u);
}

TEST(PooledRandomTest, LargeRequestsGoStraightToTheGenerator) {
  CountingSource source(256);
  EXPECT_EQ(DrawWord(source), 0u);  // refill 1: words 0..31
  std::vector<uint8_t> big(200);     // more than half a pool
  ASSERT_TRUE(source.Fill(big).ok());
  uint64_t first = 0;
  std::memcpy(&first, big.data(), 8);
  EXPECT_EQ(first, 32u);  // straight from the generator, after the pool's words
  EXPECT_EQ(source.refills(), 2u);
  EXPECT_EQ(DrawWord(source), 1u);  // the pool carries on where it was
}

TEST(PooledRandomTest, AFailingGeneratorIsAnError) {
  CountingSource source(64);  // 8 words per refill
  for (int i = 0; i < 8; ++i) DrawWord(source);
  source.fail = true;
  uint64_t v = 0;
  Status st = source.Fill({reinterpret_cast<uint8_t*>(&v), sizeof v});
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_NE(st.message().find("switched off"), std::string::npos);
  source.fail = false;
  EXPECT_EQ(DrawWord(source), 8u);  // recovers, nothing skipped or repeated
}

TEST(PooledRandomTest, ThreadsSharingASourceGetDisjointOctets) {
  CountingSource source(512);
  constexpr int kThreads = 4, kDraws = 5000;
  std::vector<std::vector<uint64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kDraws; ++i) got[t].push_back(DrawWord(source));
    });
  }
  for (std::thread& th : threads) th.join();
  std::set<uint64_t> all;
  for (const auto& g : got) all.insert(g.begin(), g.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads) * kDraws);
}

TEST(PooledRandomTest, AForkedChildRefillsInsteadOfUsingThePool) {
  CountingSource source(256);
  ASSERT_EQ(DrawWord(source), 0u);  // words 1..31 wait in the pool
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The pool's memory is wiped in the child: a draw must come from a fresh refill (the child's
    // copy of the counter is at 32), never the parent's next word (1) nor the wiped zeros.
    uint64_t v = 0;
    const bool ok = source.Fill({reinterpret_cast<uint8_t*>(&v), sizeof v}).ok();
    if (!ok) v = ~uint64_t{0};
    (void)!write(fds[1], &v, sizeof v);
    _exit(0);
  }
  close(fds[1]);
  uint64_t in_child = 0;
  ASSERT_EQ(read(fds[0], &in_child, sizeof in_child), static_cast<ssize_t>(sizeof in_child));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_EQ(in_child, 32u);
  EXPECT_EQ(DrawWord(source), 1u);  // the parent's pool is untouched
}

TEST(PooledRandomTest, OpenSslSourceGivesDistinctDraws) {
  OpenSslRandom rng;
  std::set<uint64_t> seen;
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(seen.insert(DrawWord(rng)).second);
}

}  // namespace
}  // namespace mcx
