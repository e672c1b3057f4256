// Sealed blobs: secrets encrypted in the token under the KeyEncryptionKey, safe to store anywhere.
//
// Format, version 1:
//   "MCXS" | version (1 octet, 1) | IV (12 octets, from the token's generator) | ciphertext | tag (16)
// AES-256-GCM runs inside the token. Its associated data binds the blob to what it is and whose:
//   "mcx-kms sealed blob" | "MCXS" | version | len16 | purpose | len16 | owner
// so a blob opens only with the purpose (e.g. "sakke-master-secret") and owner (the KMS's URI
// and id) it was sealed for, under the same key and format version; swapping blobs between
// purposes or KMSs, or flipping any bit, fails with DataLoss. Nothing here logs plaintext.
#pragma once

#include <string_view>

#include "base/bytes.h"
#include "base/secret.h"
#include "base/status.h"
#include "hsm/key_encryption_key.h"

namespace mcx::hsm {

inline constexpr uint8_t kSealedBlobVersion = 1;

Result<Bytes> SealBlob(const KeyEncryptionKey& kek, ByteView plaintext, std::string_view purpose,
                       std::string_view owner);

// The plaintext in guarded memory (see guarded_memory.h).
Result<SecretBytes> UnsealBlob(const KeyEncryptionKey& kek, ByteView blob, std::string_view purpose,
                               std::string_view owner);

}  // namespace mcx::hsm
