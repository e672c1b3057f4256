#include "hsm/hmac_key.h"

#include <vector>

namespace mcx::hsm {
namespace {

CK_ATTRIBUTE Attr(CK_ATTRIBUTE_TYPE type, void* value, size_t len) { return {type, value, len}; }

Result<std::vector<CK_OBJECT_HANDLE>> FindHmacKeys(Pkcs11Token& token, const std::string& label) {
  Result<Pkcs11Token::Lease> session = token.Acquire();
  if (!session.ok()) return session.status();
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_GENERIC_SECRET;
  CK_ATTRIBUTE match[] = {
      Attr(CKA_CLASS, &cls, sizeof cls),
      Attr(CKA_KEY_TYPE, &type, sizeof type),
      Attr(CKA_LABEL, const_cast<char*>(label.data()), label.size()),
  };
  return (*session)->FindObjects(match);
}

}  // namespace

Result<HmacKey> HmacKey::Generate(Pkcs11Token& token, const std::string& label, ByteView id) {
  Result<std::vector<CK_OBJECT_HANDLE>> existing = FindHmacKeys(token, label);
  if (!existing.ok()) return existing.status();
  if (!existing->empty()) {
    return Status::AlreadyExists("token '" + token.label() + "' already holds an HMAC key labelled '" + label +
                                 "'; refusing to create a second");
  }
  Result<Pkcs11Token::Lease> session = token.Acquire();
  if (!session.ok()) return session.status();
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_GENERIC_SECRET;
  CK_ULONG len = 32;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ATTRIBUTE tmpl[] = {
      Attr(CKA_CLASS, &cls, sizeof cls),
      Attr(CKA_KEY_TYPE, &type, sizeof type),
      Attr(CKA_VALUE_LEN, &len, sizeof len),
      Attr(CKA_LABEL, const_cast<char*>(label.data()), label.size()),
      Attr(CKA_ID, const_cast<uint8_t*>(id.data()), id.size()),
      Attr(CKA_TOKEN, &yes, sizeof yes),
      Attr(CKA_PRIVATE, &yes, sizeof yes),
      Attr(CKA_SENSITIVE, &yes, sizeof yes),
      Attr(CKA_EXTRACTABLE, &no, sizeof no),
      Attr(CKA_MODIFIABLE, &no, sizeof no),
      Attr(CKA_SIGN, &yes, sizeof yes),
      Attr(CKA_VERIFY, &yes, sizeof yes),
      Attr(CKA_ENCRYPT, &no, sizeof no),
      Attr(CKA_DECRYPT, &no, sizeof no),
      Attr(CKA_WRAP, &no, sizeof no),
      Attr(CKA_UNWRAP, &no, sizeof no),
      Attr(CKA_DERIVE, &no, sizeof no),
  };
  Result<CK_OBJECT_HANDLE> key = (*session)->GenerateKey(CKM_GENERIC_SECRET_KEY_GEN, tmpl);
  if (!key.ok()) return key.status().Annotate("creating the HMAC key '" + label + "'");
  return HmacKey(&token, *key, label);
}

Result<HmacKey> HmacKey::Find(Pkcs11Token& token, const std::string& label) {
  Result<std::vector<CK_OBJECT_HANDLE>> keys = FindHmacKeys(token, label);
  if (!keys.ok()) return keys.status();
  if (keys->empty()) {
    return Status::NotFound("the HMAC key '" + label + "' is not on token '" + token.label() +
                            "' (never created, deleted, or the wrong token/PIN)");
  }
  if (keys->size() > 1) {
    return Status::DataLoss("token '" + token.label() + "' holds " + std::to_string(keys->size()) +
                            " HMAC keys labelled '" + label + "'; remove the impostors before starting");
  }
  return HmacKey(&token, keys->front(), label);
}

Status HmacKey::Destroy() {
  Result<Pkcs11Token::Lease> session = token_->Acquire();
  if (!session.ok()) return session.status();
  return (*session)->DestroyObject(handle_).Annotate("removing the HMAC key '" + label_ + "'");
}

Result<HmacSha256> HmacKey::Sign(ByteView data) const {
  Result<Pkcs11Token::Lease> session = token_->Acquire();
  if (!session.ok()) return session.status();
  CK_MECHANISM mech{CKM_SHA256_HMAC, nullptr, 0};
  HmacSha256 mac{};
  Result<size_t> n = (*session)->Sign(mech, handle_, data, mac);
  if (!n.ok()) {
    session->Discard();  // a failed operation may have left the session unusable
    return n.status().Annotate("with HMAC key '" + label_ + "'");
  }
  if (*n != mac.size()) {
    return Status::Internal("token '" + token_->label() + "' returned a " + std::to_string(*n) +
                            "-octet HMAC-SHA-256; expected 32");
  }
  return mac;
}

}  // namespace mcx::hsm
