#include "engine/base/sha256.h"

#include <cstdlib>
#include <memory>

#include <openssl/evp.h>

namespace mcx {

Sha256Digest Sha256(std::initializer_list<ByteView> parts) {
  struct CtxFree { void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); } };
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  Sha256Digest out{};
  unsigned len = 0;
  bool ok = ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1;
  for (ByteView p : parts) ok = ok && EVP_DigestUpdate(ctx.get(), p.data(), p.size()) == 1;
  ok = ok && EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1 && len == out.size();
  // SHA-256 cannot fail short of memory exhaustion; a wrong digest would be worse than stopping.
  if (!ok) std::abort();
  return out;
}

}  // namespace mcx
