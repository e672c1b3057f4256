// KeySet: what a user receives for one key period (a TS 33.180 KmsKeySet).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "base/secret.h"
#include "engine/keys/key_period.h"
#include "engine/keys/mikey_sakke_uid.h"
#include "engine/math/curves.h"

namespace mcx {

struct KeySet {
  std::string user_uri;
  KeyPeriod period;
  Uid uid{};
  SecretBytes rsk;  // UserDecryptKey: 257-octet SAKKE point, secret
  SecretBytes ssk;  // UserSigningKeySSK: 32-octet scalar, secret
  P256Point pvt{};  // UserPubTokenPVT: 65-octet P-256 point, public
};

}  // namespace mcx
