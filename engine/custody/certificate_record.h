// The stored form of a KmsCertificate (StoredCertificate::record): its fields as a small TOML
// table, public only. Kept by the custody layer, which also reads the configuration as TOML; the
// store keeps the octets opaque.
#pragma once

#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "engine/keys/kms_certificate.h"

namespace mcx {

Bytes EncodeCertificateRecord(const KmsCertificate& cert);
// DataLoss, naming `origin`, for a record that is not one.
Result<KmsCertificate> DecodeCertificateRecord(ByteView record, const std::string& origin);

}  // namespace mcx
