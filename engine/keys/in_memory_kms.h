// InMemoryKms: a throw-away KMS held in this process, for demos and tests only.
//
// Fresh master secrets drawn from `rng`, their public keys, and the fastest kernels this CPU
// has. Nothing is sealed or kept: a real KMS holds its master secrets in HSM custody
// (engine/custody) and never creates them like this.
#pragma once

#include <memory>

#include "engine/keys/master_secrets.h"

namespace mcx {

struct InMemoryKms {
  std::unique_ptr<SakkeKernel> sakke;
  std::unique_ptr<EccsiKernel> eccsi;
  MasterSecrets secrets;
  KmsPublicKeys pub;

  static Result<InMemoryKms> Create(RandomSource& rng) {
    InMemoryKms k;
    k.sakke = NewBestSakkeKernel();
    k.eccsi = NewFastEccsiKernel();
    Result<MasterSecrets> secrets = GenerateMasterSecrets(rng);
    if (!secrets.ok()) return secrets.status();
    k.secrets = std::move(secrets).value();
    Result<KmsPublicKeys> pub = DerivePublicKeys(k.secrets, *k.sakke, *k.eccsi);
    if (!pub.ok()) return pub.status();
    k.pub = *pub;
    return k;
  }
};

}  // namespace mcx
