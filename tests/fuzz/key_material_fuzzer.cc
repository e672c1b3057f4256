// libFuzzer target: the key material `mcx-kms verify` and `bench http` read from a KMS under test
// (bench/capacity ParseKmsInitPublicKeys, CheckKeyProvAnswers) and the device-side checks behind
// them (engine/keys CheckReceiverSecretKey, CheckSigningKey) on points that come from outside.
// The first byte picks what the rest is:
//   0: a KmsInit answer;
//   1: a KmsKeyProv answer, checked against a fixed KMS (public keys of a TestKms);
//   2: an RSK, then (from byte 258 on, if any) an SSK of 32 octets and a PVT, checked for a
//      fixed identity against that KMS: arbitrary points into the pairing and the SSK check.
// Beyond "no crash": nothing made up here is ever judged a valid key set.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "bench/capacity/key_material_check.h"
#include "engine/keys/client_check.h"
#include "tests/support/test_kms.h"

namespace {

struct Harness {
  mcx::testing::TestKms kms;
  mcx::capacity::KmsPublicView view{kms.params, kms.pub};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness h;
  if (size == 0 || size > 64 * 1024) return 0;
  const std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0:
      (void)mcx::capacity::ParseKmsInitPublicKeys(rest);
      break;
    case 1: {
      mcx::capacity::KeyMaterialVerdict v = mcx::capacity::CheckKeyProvAnswers(h.view, {rest});
      if (v.answers != 1 || v.invalid != 1) std::abort();
      break;
    }
    default: {
      static const std::string id = "uid-of-sip:fuzz@example.org";
      const mcx::ByteView idv(reinterpret_cast<const uint8_t*>(id.data()), id.size());
      const size_t rsk_len = rest.size() < 257 ? rest.size() : 257;
      const mcx::ByteView rsk(data + 1, rsk_len);
      if (mcx::CheckReceiverSecretKey(h.kms.pub.z_pub, idv, rsk).ok()) std::abort();
      if (rest.size() > 257) {
        const size_t n = rest.size() - 257;
        const size_t ssk_len = n < 32 ? n : 32;
        const mcx::ByteView ssk(data + 1 + 257, ssk_len);
        const mcx::ByteView pvt(data + 1 + 257 + ssk_len, n - ssk_len);
        if (mcx::CheckSigningKey(h.kms.pub.kpak, idv, ssk, pvt).ok()) std::abort();
      }
      break;
    }
  }
  return 0;
}
