// The operator's acts on a KMS's certificates and users (`mcx-kms cert ...`, `revoke`,
// `reinstate`). Each is one transaction in the store's lifecycle tables; a running server on the
// same store serves the result within its watch interval (KmsInstance::StartWatching).
//
//   RollOver     new master secrets born in the HSM and sealed at once, a new certificate (new
//                CertUri, same KmsUri) published now and taking over at its ValidFrom, which is
//                a key-period boundary in the future; the old one stays valid to its ValidTo
//   Import       another security domain's certificate (Role External), public only
//   Remove       takes an imported certificate out; this KMS's own are revoked, never removed
//   Revoke*      a certificate (no key material under it, Revoked true in the cache) or a user
//                (no key material for the periods that end at or after a time)
#pragma once

#include <optional>
#include <string>

#include "engine/custody/kms_instance.h"

namespace mcx {

struct RolloverRequest {
  NtpSeconds valid_from = 0;               // rounded up to a key-period boundary
  std::optional<NtpSeconds> valid_to;      // default: 20 years; rounded down to a period's end
};

struct RolloverResult {
  KmsCertificate certificate;
  bool from_rounded = false, to_rounded = false;  // say so to the operator
};

// InvalidArgument when ValidFrom is not in the future (after rounding), or ValidTo is not after it.
Result<RolloverResult> RollOverCertificate(KmsInstance& kms, const RolloverRequest& request);

// InvalidArgument for a certificate of this KMS's own URI, or one without CertUri or keys;
// AlreadyExists when its CertUri is in the store.
Status ImportExternalCertificate(KmsInstance& kms, KmsCertificate certificate);

}  // namespace mcx
