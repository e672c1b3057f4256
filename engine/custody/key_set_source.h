// The host-side KeySetSource of a KMS in HSM custody: master secrets unsealed by KmsCustody into
// guarded memory, ECCSI's v from the HSM's generator. The seam itself is engine/keys/key_set_source.h.
#pragma once

#include <memory>

#include "engine/custody/kms_custody.h"
#include "engine/keys/key_set_source.h"

namespace mcx {

// `custody` and the kernels must outlive the source.
inline std::unique_ptr<HostKeySetSource> NewCustodyKeySetSource(KmsCustody& custody, const SakkeKernel& sakke,
                                                                const EccsiKernel& eccsi) {
  return std::make_unique<HostKeySetSource>(custody.params(), custody.secrets(), custody.public_keys(), sakke,
                                            eccsi, custody.random());
}

}  // namespace mcx
