// KeyMaterialCheck: judges key material received over the KMS interface exactly as a device does.
//
// ParseKmsInitPublicKeys() reads a KmsInit answer (TS 33.180 Annex D) and takes from its
// KmsCertificate what a device keeps: the community parameters (KmsUri, UserKeyPeriod,
// UserKeyOffset), Z (PubEncKey) and KPAK (PubAuthKey). CheckKeyProvAnswers() parses each KmsKeyProv
// answer with libxml2 (no network, no DTDs) and, for every KmsKeySet in it, recomputes the UID of
// Annex F.2.1 from UserUri and KeyPeriodNo, compares it with UserID, and runs the RFC 6508 RSK
// check and the RFC 6507 SSK/PVT check (engine/keys/client_check.h). A pairing takes milliseconds:
// call this off any I/O thread. Problems are described without the key material, which is wiped
// after use.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "engine/keys/community_parameters.h"
#include "engine/keys/key_period.h"
#include "engine/keys/master_secrets.h"

namespace mcx::capacity {

struct KmsPublicView {
  CommunityParameters params;
  KmsPublicKeys keys;
  NtpSeconds valid_from = 0;  // the certificate's ValidFrom and ValidTo; 0 when it has none
  NtpSeconds valid_to = 0;
};

// `cert_uri`, when given, picks that certificate among several (a KmsCertCache answer holds every
// certificate of a KMS: after a rollover, keys of either are checked with their own).
Result<KmsPublicView> ParseKmsInitPublicKeys(const std::string& init_xml, const std::string& cert_uri = "");

// For an on-demand load: the times of the periods a KMS serves but has not pre-provisioned,
// from the start of the period after next (bulk provisioning covers this one and the next) to
// the end of the period `periods_ahead` after the current one (the server's
// --max-periods-ahead: it refuses later times) or the certificate's ValidTo, whichever is sooner.
// With the server's default of 2 that is one period: each user's first request derives, later
// ones find the stored set. InvalidArgument when the window is empty.
Result<std::pair<NtpSeconds, NtpSeconds>> OnDemandWindow(const KmsPublicView& kms, NtpSeconds now,
                                                         uint64_t periods_ahead);

struct KeyMaterialVerdict {
  size_t answers = 0;    // KmsKeyProv answers looked at
  size_t key_sets = 0;   // KmsKeySets in them
  size_t invalid = 0;    // answers with a malformed document or a key set a device would reject
  std::vector<std::string> problems;  // one line per invalid answer (first few)
};

KeyMaterialVerdict CheckKeyProvAnswers(const KmsPublicView& kms, const std::vector<std::string>& answers);

}  // namespace mcx::capacity
