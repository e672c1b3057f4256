// KmsCertificate: the public face of a KMS, as TS 33.180 Annex D's KmsCertificate carries it.
//
// Devices take the community parameters and the two public keys from it; the UIDs of all key
// sets are computed with its KmsUri. Fields are in the schema's order. A KMS has several over its
// life (rolled over on key-period boundaries, all with the same KmsUri, so a user's UIDs do not
// change), and may serve other security domains' certificates (Role "External").
#pragma once

#include <string>
#include <vector>

#include "engine/keys/community_parameters.h"
#include "engine/keys/key_period.h"
#include "engine/keys/master_secrets.h"

namespace mcx {

struct KmsCertificate {
  std::string version = "1.1.0";  // Version attribute
  std::string role = "Root";      // Role attribute
  CommunityParameters params;     // KmsUri, UserKeyPeriod, UserKeyOffset
  std::string cert_uri;           // CertUri, e.g. "kms.example.org.cert"
  std::string issuer;             // Issuer, e.g. "www.example.org"
  NtpSeconds valid_from = 0;      // ValidFrom
  NtpSeconds valid_to = 0;        // ValidTo
  bool revoked = false;           // Revoked
  int user_id_format = kUserIdFormat;         // UserIdFormat (2)
  KmsPublicKeys keys;                         // PubEncKey (Z), PubAuthKey (KPAK)
  int parameter_set = kSakkeParameterSet;     // ParameterSet (1)
  std::vector<std::string> kms_domains;       // KmsDomainList (imported certificates of other domains)
};

inline constexpr char kRoleRoot[] = "Root";
inline constexpr char kRoleExternal[] = "External";

}  // namespace mcx
