// Sha256 and Sha256WithPrefix: the FIPS 180-2 known answers, and the prefix state resumed for many
// messages, from many threads, agreeing with hashing each message whole.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/sha256.h"

namespace mcx {
namespace {

TEST(Sha256Test, KnownAnswers) {
  EXPECT_EQ(ToHex(Sha256({AsBytes("abc")})), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(Sha256({})), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // The same message in pieces.
  EXPECT_EQ(ToHex(Sha256({AsBytes("a"), AsBytes(""), AsBytes("bc")})),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, PrefixStateGivesTheDigestOfTheWholeMessage) {
  // A 130-octet prefix like ECCSI's G || KPAK, so the resumed state sits mid-block.
  const std::string g(65, 'G'), kpak(65, 'K');
  const Sha256WithPrefix prefix({AsBytes(g), AsBytes(kpak)});
  EXPECT_EQ(prefix.Digest({}), Sha256({AsBytes(g), AsBytes(kpak)}));
  for (size_t len : {0, 1, 31, 32, 55, 56, 63, 64, 65, 97, 200}) {
    const std::string uid(len, static_cast<char>('a' + len % 26));
    const std::string pvt(65, static_cast<char>(len));
    EXPECT_EQ(prefix.Digest({AsBytes(uid), AsBytes(pvt)}), Sha256({AsBytes(g + kpak + uid), AsBytes(pvt)}))
        << "length " << len;
  }
  // Asking twice gives the same answer: the prefix state is never consumed.
  EXPECT_EQ(prefix.Digest({AsBytes("x")}), prefix.Digest({AsBytes("x")}));
  EXPECT_NE(prefix.Digest({AsBytes("x")}), prefix.Digest({AsBytes("y")}));
}

TEST(Sha256Test, PrefixAndWholeInOnePassEqualTwoDigests) {
  EXPECT_EQ(ToHex(Sha256OfPrefixAndWhole(AsBytes("abc"), 0).prefix),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ToHex(Sha256OfPrefixAndWhole(AsBytes("abc"), 3).whole),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  for (size_t len : {0, 1, 55, 64, 65, 200, 460}) {
    std::string m(len, 'x');
    for (size_t i = 0; i < len; ++i) m[i] = static_cast<char>('a' + (i * 7 + len) % 26);
    for (size_t cut : {size_t{0}, len / 3, len / 2, len == 0 ? 0 : len - 1, len}) {
      const Sha256PrefixAndWhole d = Sha256OfPrefixAndWhole(AsBytes(m), cut);
      EXPECT_EQ(d.prefix, Sha256({AsBytes(m.substr(0, cut))})) << len << " " << cut;
      EXPECT_EQ(d.whole, Sha256({AsBytes(m)})) << len << " " << cut;
    }
  }
}

TEST(Sha256Test, TwoPrefixesOnManyThreadsDoNotMix) {
  const Sha256WithPrefix a({AsBytes("prefix one")}), b({AsBytes("prefix two, longer")});
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string m = std::to_string(t * 100000 + i);
        if (a.Digest({AsBytes(m)}) != Sha256({AsBytes("prefix one" + m)})) ++wrong[t];
        if (b.Digest({AsBytes(m)}) != Sha256({AsBytes("prefix two, longer" + m)})) ++wrong[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace mcx
