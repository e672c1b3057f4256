#include "hsm/hsm_random.h"

namespace mcx::hsm {

Status HsmRandom::Refill(std::span<uint8_t> out) {
  Result<Pkcs11Token::Lease> session = token_.Acquire();
  if (!session.ok()) return session.status();
  Status st = (*session)->GenerateRandom(out);
  if (!st.ok()) session->Discard();
  return st;
}

}  // namespace mcx::hsm
