// The stored form of a KmsCertificate (StoredCertificate::record): its fields as a small TOML
// table, public only. Kept by the custody layer, which also reads the configuration as TOML; the
// store keeps the octets opaque.
#pragma once

#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "engine/custody/kms_state_files.h"
#include "engine/keys/kms_certificate.h"
#include "engine/store/lifecycle_store.h"

namespace mcx {

Bytes EncodeCertificateRecord(const KmsCertificate& cert);
// DataLoss, naming `origin`, for a record that is not one.
Result<KmsCertificate> DecodeCertificateRecord(ByteView record, const std::string& origin);

// The lifecycle row of a certificate: one of this KMS's own with its sealed master secrets, or,
// when `sealed` is null, an imported one (public only; no ValidTo means no end).
StoredCertificate CertificateRow(const KmsCertificate& cert, const SealedMasterSecrets* sealed);

}  // namespace mcx
