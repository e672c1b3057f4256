// A KMS held in memory for tests: community parameters, fresh master secrets, and the kernels the
// engine uses in production (the fastest this CPU has).
#pragma once

#include <memory>

#include "base/pooled_random.h"
#include "engine/keys/key_set_source.h"

namespace mcx::testing {

struct TestKms {
  std::unique_ptr<SakkeKernel> sakke = NewBestSakkeKernel();
  std::unique_ptr<EccsiKernel> eccsi = NewFastEccsiKernel();
  CommunityParameters params = *CommunityParameters::Make("kms.example.org", 2592000, 0);
  MasterSecrets secrets;
  KmsPublicKeys pub;
  OpenSslRandom rng;
  std::unique_ptr<KeySetDeriver> deriver;
  std::unique_ptr<HostKeySetSource> source;

  TestKms() {
    secrets = *GenerateMasterSecrets(rng);
    pub = *DerivePublicKeys(secrets, *sakke, *eccsi);
    deriver = std::make_unique<KeySetDeriver>(params, secrets, pub, *sakke, *eccsi);
    source = std::make_unique<HostKeySetSource>(params, secrets, pub, *sakke, *eccsi, rng);
  }
};

}  // namespace mcx::testing
