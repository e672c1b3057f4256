#include "hsm/key_encryption_key.h"

namespace mcx::hsm {
namespace {

CK_ATTRIBUTE Attr(CK_ATTRIBUTE_TYPE type, void* value, size_t len) { return {type, value, len}; }

Result<std::vector<CK_OBJECT_HANDLE>> FindAesKeys(Pkcs11Token& token, const std::string& label) {
  Result<Pkcs11Token::Lease> session = token.Acquire();
  if (!session.ok()) return session.status();
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_AES;
  CK_ATTRIBUTE match[] = {
      Attr(CKA_CLASS, &cls, sizeof cls),
      Attr(CKA_KEY_TYPE, &type, sizeof type),
      Attr(CKA_LABEL, const_cast<char*>(label.data()), label.size()),
  };
  return (*session)->FindObjects(match);
}

CK_GCM_PARAMS GcmParams(ByteView iv, ByteView aad) {
  CK_GCM_PARAMS p{};
  p.pIv = const_cast<CK_BYTE_PTR>(iv.data());
  p.ulIvLen = iv.size();
  p.ulIvBits = iv.size() * 8;
  p.pAAD = const_cast<CK_BYTE_PTR>(aad.data());
  p.ulAADLen = aad.size();
  p.ulTagBits = kGcmTagBytes * 8;
  return p;
}

}  // namespace

Result<KeyEncryptionKey> KeyEncryptionKey::Generate(Pkcs11Token& token, const std::string& label, ByteView id) {
  Result<std::vector<CK_OBJECT_HANDLE>> existing = FindAesKeys(token, label);
  if (!existing.ok()) return existing.status();
  if (!existing->empty()) {
    return Status::AlreadyExists("token '" + token.label() + "' already holds an AES key labelled '" + label +
                                 "'; refusing to create a second");
  }
  Result<Pkcs11Token::Lease> session = token.Acquire();
  if (!session.ok()) return session.status();
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_AES;
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
      Attr(CKA_ENCRYPT, &yes, sizeof yes),
      Attr(CKA_DECRYPT, &yes, sizeof yes),
      Attr(CKA_WRAP, &no, sizeof no),
      Attr(CKA_UNWRAP, &no, sizeof no),
      Attr(CKA_SIGN, &no, sizeof no),
      Attr(CKA_VERIFY, &no, sizeof no),
      Attr(CKA_DERIVE, &no, sizeof no),
  };
  Result<CK_OBJECT_HANDLE> key = (*session)->GenerateKey(CKM_AES_KEY_GEN, tmpl);
  if (!key.ok()) return key.status().Annotate("creating the key-encryption key '" + label + "'");
  return KeyEncryptionKey(&token, *key, label);
}

Result<KeyEncryptionKey> KeyEncryptionKey::Find(Pkcs11Token& token, const std::string& label) {
  Result<std::vector<CK_OBJECT_HANDLE>> keys = FindAesKeys(token, label);
  if (!keys.ok()) return keys.status();
  if (keys->empty()) {
    return Status::NotFound("the key-encryption key '" + label + "' is not on token '" + token.label() +
                            "' (deleted, or the wrong token/PIN): the sealed master secrets cannot be "
                            "opened without it; restore the token from its backup or point mcx-kms at "
                            "the token that holds it");
  }
  if (keys->size() > 1) {
    return Status::DataLoss("token '" + token.label() + "' holds " + std::to_string(keys->size()) +
                            " AES keys labelled '" + label + "'; remove the impostors before starting");
  }
  return KeyEncryptionKey(&token, keys->front(), label);
}

Status KeyEncryptionKey::Destroy() {
  Result<Pkcs11Token::Lease> session = token_->Acquire();
  if (!session.ok()) return session.status();
  return (*session)->DestroyObject(handle_).Annotate("removing the key-encryption key '" + label_ + "'");
}

Result<Bytes> KeyEncryptionKey::Encrypt(ByteView iv, ByteView aad, ByteView plaintext) const {
  Result<Pkcs11Token::Lease> session = token_->Acquire();
  if (!session.ok()) return session.status();
  CK_GCM_PARAMS params = GcmParams(iv, aad);
  CK_MECHANISM mech{CKM_AES_GCM, &params, sizeof params};
  return (*session)->Encrypt(mech, handle_, plaintext);
}

Result<SecretBytes> KeyEncryptionKey::Decrypt(ByteView iv, ByteView aad, ByteView ciphertext_and_tag) const {
  Result<Pkcs11Token::Lease> session = token_->Acquire();
  if (!session.ok()) return session.status();
  CK_GCM_PARAMS params = GcmParams(iv, aad);
  CK_MECHANISM mech{CKM_AES_GCM, &params, sizeof params};
  Result<SecretBytes> plain = (*session)->Decrypt(mech, handle_, ciphertext_and_tag);
  // Some modules (SoftHSM2 among them) report a failed GCM tag as a general failure.
  if (!plain.ok() && (plain.status().code() == Status::Code::kInternal ||
                      plain.status().code() == Status::Code::kDataLoss)) {
    return Status::DataLoss("the token could not authenticate the sealed data with key '" + label_ +
                            "' (" + plain.status().message() + ")");
  }
  return plain;
}

}  // namespace mcx::hsm
