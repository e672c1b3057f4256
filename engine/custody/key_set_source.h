// KeySetSource: the one seam through which a KMS obtains key sets.
//
// A key set is a function of (master secrets, UID, fresh randomness). Today the host computes it:
// HostKeySetSource runs the engine's KeySetDeriver on the master secrets that KmsCustody unsealed
// into guarded memory, drawing ECCSI's v from the HSM's generator. An HSM whose vendor firmware
// can compute RSKs and SSKs itself would implement this interface by calling a vendor-defined
// mechanism (CKM_VENDOR_DEFINED + n) on a master-secret object that never leaves the token; the
// issuing code above (bulk, HTTP) would not change. See docs/hsm.md, "The derivation seam".
#pragma once

#include <string>

#include "engine/custody/kms_custody.h"
#include "engine/keys/key_set_deriver.h"

namespace mcx {

class KeySetSource {
 public:
  virtual ~KeySetSource() = default;
  virtual const KmsPublicKeys& public_keys() const = 0;
  // Thread-safe.
  virtual Result<KeySet> Derive(const std::string& user_uri, uint64_t key_period_no) = 0;
};

class HostKeySetSource final : public KeySetSource {
 public:
  // `custody` and the kernels must outlive this.
  HostKeySetSource(KmsCustody& custody, const SakkeKernel& sakke, const EccsiKernel& eccsi)
      : custody_(custody),
        deriver_(custody.params(), custody.secrets(), custody.public_keys(), sakke, eccsi) {}

  const KmsPublicKeys& public_keys() const override { return custody_.public_keys(); }
  Result<KeySet> Derive(const std::string& user_uri, uint64_t key_period_no) override {
    return deriver_.Derive(user_uri, key_period_no, custody_.random());
  }

 private:
  KmsCustody& custody_;
  KeySetDeriver deriver_;
};

}  // namespace mcx
