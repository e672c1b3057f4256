// Client-side checks of a key set, exactly as a device does them on receipt.
//
//   RSK: <[a]P + Z, RSK> = g, with the Tate-Lichtenbaum pairing   (RFC 6508 6.1.2)
//   SSK: PVT on the curve, HS = SHA-256(G || KPAK || ID || PVT),
//        [SSK]G = KPAK + [HS]PVT                                    (RFC 6507 5.1.2)
//
// All inputs are what the device holds: public keys from the KMS certificate, its identifier,
// and the received key material. These checks run at the KMS too (the `verify` command and the
// tests), so a key set that a device would reject is never handed out unnoticed.
#pragma once

#include "base/bytes.h"
#include "base/status.h"
#include "engine/keys/key_set.h"
#include "engine/keys/master_secrets.h"

namespace mcx {

// OK when the RSK validates; InvalidArgument naming what failed otherwise.
Status CheckReceiverSecretKey(const SakkePoint& z_pub, ByteView id, ByteView rsk);
Status CheckSigningKey(const P256Point& kpak, ByteView id, ByteView ssk, ByteView pvt);
// Both checks on a key set, with its UID as the identifier.
Status CheckKeySet(const KmsPublicKeys& pub, const KeySet& ks);

}  // namespace mcx
