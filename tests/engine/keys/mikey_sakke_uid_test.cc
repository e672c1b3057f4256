// TS 33.180 Annex F.2.1 UIDs against the project's reference values.
#include <gtest/gtest.h>

#include "base/bytes.h"
#include "engine/keys/mikey_sakke_uid.h"

namespace mcx {
namespace {

CommunityParameters Params() {
  return *CommunityParameters::Make("kms.example.org", 2592000, 0);
}

TEST(MikeySakkeUidTest, HashInputMatchesReference) {
  Result<Bytes> in = MikeySakkeUidInput("sip:user@example.org", Params(), 1388);
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(ToHex(*in),
            "004d494b45592d53414b4b452d554944000f7369703a75736572406578616d706c652e6f726700146b6d73"
            "2e6578616d706c652e6f7267000f278d000003000001056c0002");
}

TEST(MikeySakkeUidTest, UidsMatchReference) {
  Result<Uid> a = MikeySakkeUid("sip:user@example.org", Params(), 1388);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(ToHex(*a), "3a81fb14c3b1d0fe43c9c577104d55a6d81788bfd2f09743c4557746a5a0353b");
  Result<Uid> b = MikeySakkeUid("sip:user@example.org", Params(), 1);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(ToHex(*b), "74e2af803ab5d72841bbced0ce319ffe64f6fe23c88a2d258aabcf6ac5658ef4");
}

TEST(MikeySakkeUidTest, PeriodNumberZeroIsOneZeroOctet) {
  Result<Bytes> in = MikeySakkeUidInput("sip:user@example.org", Params(), 0);
  ASSERT_TRUE(in.ok());
  // The input ends with P5 = 00 and L5 = 0001.
  ASSERT_GE(in->size(), 3u);
  EXPECT_EQ(ToHex(ByteView(in->data() + in->size() - 3, 3)), "000001");
}

TEST(MikeySakkeUidTest, EveryFieldChangesTheUid) {
  const Uid base = *MikeySakkeUid("sip:user@example.org", Params(), 1388);
  EXPECT_NE(*MikeySakkeUid("sip:other@example.org", Params(), 1388), base);
  EXPECT_NE(*MikeySakkeUid("sip:user@example.org", Params(), 1389), base);
  EXPECT_NE(*MikeySakkeUid("sip:user@example.org", *CommunityParameters::Make("kms2.example.org", 2592000, 0), 1388),
            base);
  EXPECT_NE(*MikeySakkeUid("sip:user@example.org", *CommunityParameters::Make("kms.example.org", 2592001, 0), 1388),
            base);
  EXPECT_NE(*MikeySakkeUid("sip:user@example.org", *CommunityParameters::Make("kms.example.org", 2592000, 1), 1388),
            base);
}

TEST(MikeySakkeUidTest, EmptyOrNonUriIdentityIsRefused) {
  struct Case { const char* uri; const char* expect; };
  for (const Case& c : {Case{"", "is empty"}, Case{"alice", "not a URI"}, Case{":alice", "not a URI"},
                        Case{"sip:", "not a URI"}, Case{"1sip:alice", "not a URI"},
                        Case{"sip:alice @example.org", "blank or control character at offset 9"},
                        Case{"sip:al\nice", "blank or control character"}}) {
    Result<Uid> uid = MikeySakkeUid(c.uri, Params(), 1);
    ASSERT_FALSE(uid.ok()) << c.uri;
    EXPECT_EQ(uid.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(uid.status().message().find(c.expect), std::string::npos) << uid.status().message();
  }
  EXPECT_TRUE(MikeySakkeUid("tel:+447700900123", Params(), 1).ok());
  EXPECT_TRUE(MikeySakkeUid("mcptt-id:alice@example.org", Params(), 1).ok());
  EXPECT_FALSE(MikeySakkeUid(std::string("sip:") + std::string(65532, 'a'), Params(), 1).ok());
}

TEST(MikeySakkeUidTest, EmptyKmsUriIsRefused) {
  Result<CommunityParameters> p = CommunityParameters::Make("", 2592000, 0);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("KMS URI is empty"), std::string::npos);
  EXPECT_FALSE(CommunityParameters::Make("kms example", 2592000, 0).ok());
}

}  // namespace
}  // namespace mcx
