// libFuzzer target: the IdMS's trusted keys file (api LoadTrustedKeys), JWKS or PEM, as the
// operator configures it. The text goes through a scratch file, as LoadTrustedKeys reads a path.
// Beyond "no crash": every key loaded has an algorithm and a key, as Verify() relies on, and every
// ES256 key its P256VerifyingKey.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "api/access_token.h"
#include "tests/fuzz/scratch_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mcx::fuzz::ScratchFile file("trusted-keys");
  file.Write(data, size);
  mcx::Result<std::vector<mcx::api::TrustedKey>> keys = mcx::api::LoadTrustedKeys(file.path().string());
  if (keys.ok()) {
    if (keys->empty()) std::abort();
    for (const mcx::api::TrustedKey& k : *keys) {
      if (k.jwk == nullptr) std::abort();
      if ((k.alg == mcx::api::TokenAlg::kES256) != (k.es256 != nullptr)) std::abort();
    }
  }
  return 0;
}
