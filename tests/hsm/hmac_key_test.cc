// HmacKey against a real SoftHSM2 token: the key is made in the token with the attributes the
// audit chain relies on, MACs are deterministic and key-specific, and the value never comes out.
#include <gtest/gtest.h>

#include "hsm/hmac_key.h"
#include "hsm/pkcs11_error.h"
#include "hsm/pkcs11_module.h"
#include "hsm/pkcs11_token.h"
#include "tests/support/softhsm_fixture.h"

namespace mcx::testing {
namespace {

class HmacKeyTest : public SoftHsmTest {
 protected:
  void SetUp() override {
    SoftHsmTest::SetUp();
    Result<std::shared_ptr<hsm::Pkcs11Module>> module = hsm::Pkcs11Module::Load(kModule);
    ASSERT_TRUE(module.ok()) << module.status().ToString();
    module_ = *module;
    SecretBytes pin(AsBytes(kUserPin));
    Result<std::unique_ptr<hsm::Pkcs11Token>> token = hsm::Pkcs11Token::Open(module_, kTokenLabel, &pin);
    ASSERT_TRUE(token.ok()) << token.status().ToString();
    token_ = std::move(token).value();
  }
  void TearDown() override {
    token_.reset();
    module_.reset();
    SoftHsmTest::TearDown();
  }

  CK_BBOOL BoolAttribute(const hsm::HmacKey& key, CK_ATTRIBUTE_TYPE type) {
    Result<hsm::Pkcs11Token::Lease> s = token_->Acquire();
    EXPECT_TRUE(s.ok());
    CK_BBOOL value = CK_FALSE;
    CK_ATTRIBUTE a{type, &value, sizeof value};
    EXPECT_EQ(module_->fn()->C_GetAttributeValue((*s)->handle(), key.handle(), &a, 1), CKR_OK) << type;
    return value;
  }

  std::shared_ptr<hsm::Pkcs11Module> module_;
  std::unique_ptr<hsm::Pkcs11Token> token_;
};

TEST_F(HmacKeyTest, SameInputSameMacOtherInputOtherMac) {
  Result<hsm::HmacKey> key = hsm::HmacKey::Generate(*token_, "audit-a", AsBytes("id"));
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  Result<hsm::HmacSha256> m1 = key->Sign(AsBytes("record one"));
  Result<hsm::HmacSha256> m2 = key->Sign(AsBytes("record one"));
  Result<hsm::HmacSha256> m3 = key->Sign(AsBytes("record one."));
  ASSERT_TRUE(m1.ok() && m2.ok() && m3.ok()) << m1.status().ToString();
  EXPECT_EQ(*m1, *m2);
  EXPECT_NE(*m1, *m3);
  EXPECT_NE(*m1, hsm::HmacSha256{});
}

TEST_F(HmacKeyTest, AnotherKeyGivesAnotherMac) {
  Result<hsm::HmacKey> a = hsm::HmacKey::Generate(*token_, "audit-a", AsBytes("a"));
  Result<hsm::HmacKey> b = hsm::HmacKey::Generate(*token_, "audit-b", AsBytes("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  Result<hsm::HmacSha256> ma = a->Sign(AsBytes("same input"));
  Result<hsm::HmacSha256> mb = b->Sign(AsBytes("same input"));
  ASSERT_TRUE(ma.ok() && mb.ok());
  EXPECT_NE(*ma, *mb);
}

TEST_F(HmacKeyTest, FindFindsTheGeneratedKeyAndOnlyOne) {
  Result<hsm::HmacKey> made = hsm::HmacKey::Generate(*token_, "audit-a", AsBytes("a"));
  ASSERT_TRUE(made.ok());
  Result<hsm::HmacKey> found = hsm::HmacKey::Find(*token_, "audit-a");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  Result<hsm::HmacSha256> m1 = made->Sign(AsBytes("x")), m2 = found->Sign(AsBytes("x"));
  ASSERT_TRUE(m1.ok() && m2.ok());
  EXPECT_EQ(*m1, *m2);

  Result<hsm::HmacKey> missing = hsm::HmacKey::Find(*token_, "audit-none");
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  Result<hsm::HmacKey> again = hsm::HmacKey::Generate(*token_, "audit-a", AsBytes("a"));
  EXPECT_EQ(again.status().code(), Status::Code::kAlreadyExists);
  // The label of an AES key does not make it an HMAC key.
  EXPECT_EQ(hsm::HmacKey::Find(*token_, "mcx-kms-kek-none").status().code(), Status::Code::kNotFound);

  ASSERT_TRUE(made->Destroy().ok());
  EXPECT_EQ(hsm::HmacKey::Find(*token_, "audit-a").status().code(), Status::Code::kNotFound);
}

TEST_F(HmacKeyTest, KeyIsSensitiveNonExtractableAndOnlySigns) {
  Result<hsm::HmacKey> key = hsm::HmacKey::Generate(*token_, "audit-a", AsBytes("a"));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(BoolAttribute(*key, CKA_TOKEN), CK_TRUE);
  EXPECT_EQ(BoolAttribute(*key, CKA_PRIVATE), CK_TRUE);
  EXPECT_EQ(BoolAttribute(*key, CKA_SENSITIVE), CK_TRUE);
  EXPECT_EQ(BoolAttribute(*key, CKA_EXTRACTABLE), CK_FALSE);
  EXPECT_EQ(BoolAttribute(*key, CKA_SIGN), CK_TRUE);
  EXPECT_EQ(BoolAttribute(*key, CKA_VERIFY), CK_TRUE);
  EXPECT_EQ(BoolAttribute(*key, CKA_ENCRYPT), CK_FALSE);
  EXPECT_EQ(BoolAttribute(*key, CKA_WRAP), CK_FALSE);
  EXPECT_EQ(BoolAttribute(*key, CKA_DERIVE), CK_FALSE);

  // The value itself is refused.
  Result<hsm::Pkcs11Token::Lease> s = token_->Acquire();
  ASSERT_TRUE(s.ok());
  uint8_t value[64];
  CK_ATTRIBUTE a{CKA_VALUE, value, sizeof value};
  const CK_RV rv = module_->fn()->C_GetAttributeValue((*s)->handle(), key->handle(), &a, 1);
  EXPECT_EQ(rv, CKR_ATTRIBUTE_SENSITIVE) << hsm::CkrName(rv);
  EXPECT_EQ(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
}

TEST_F(HmacKeyTest, MacOfEmptyAndLongInputs) {
  Result<hsm::HmacKey> key = hsm::HmacKey::Generate(*token_, "audit-a", AsBytes("a"));
  ASSERT_TRUE(key.ok());
  Bytes big(1 << 20, 0x5a);
  Result<hsm::HmacSha256> empty = key->Sign({}), large = key->Sign(big);
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  ASSERT_TRUE(large.ok()) << large.status().ToString();
  EXPECT_NE(*empty, *large);
}

// Login is per process: a second Pkcs11Token (an AuditCustody opened beside a KmsCustody) shares
// it, and destroying the second must leave the first logged in.
TEST_F(HmacKeyTest, ASecondTokenSharesTheLoginAndLeavesItInPlace) {
  Result<hsm::HmacKey> key = hsm::HmacKey::Generate(*token_, "audit-a", AsBytes("a"));
  ASSERT_TRUE(key.ok());
  {
    SecretBytes pin(AsBytes(kUserPin));
    Result<std::unique_ptr<hsm::Pkcs11Token>> second = hsm::Pkcs11Token::Open(module_, kTokenLabel, &pin);
    ASSERT_TRUE(second.ok()) << second.status().ToString();
    Result<hsm::HmacKey> found = hsm::HmacKey::Find(**second, "audit-a");
    ASSERT_TRUE(found.ok()) << found.status().ToString();
    EXPECT_TRUE(found->Sign(AsBytes("x")).ok());
  }
  Result<hsm::HmacSha256> after = key->Sign(AsBytes("x"));
  EXPECT_TRUE(after.ok()) << after.status().ToString();
  // The token that logged in still logs out when it goes.
  token_.reset();
  Result<CK_SLOT_ID> slot = module_->FindToken(kTokenLabel);
  ASSERT_TRUE(slot.ok());
  Result<hsm::Pkcs11Session> s = hsm::Pkcs11Session::Open(module_, *slot, kTokenLabel, /*read_write=*/false);
  ASSERT_TRUE(s.ok());
  CK_SESSION_INFO info{};
  ASSERT_EQ(module_->fn()->C_GetSessionInfo(s->handle(), &info), CKR_OK);
  EXPECT_EQ(info.state, static_cast<CK_STATE>(CKS_RO_PUBLIC_SESSION));
}

}  // namespace
}  // namespace mcx::testing
