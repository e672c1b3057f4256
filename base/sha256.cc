#include "base/sha256.h"

#include <cstdlib>

#include "base/openssl_handles.h"

namespace mcx {
namespace {

// SHA-256 cannot fail short of memory exhaustion; a wrong digest would be worse than stopping.
void Require(bool ok) {
  if (!ok) std::abort();
}

// Fetched once: EVP_sha256() in each call looks the implementation up by name.
const EVP_MD* Sha256Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  Require(md != nullptr);
  return md;
}

void Finish(EVP_MD_CTX* ctx, std::initializer_list<ByteView> parts, Sha256Digest& out) {
  unsigned len = 0;
  for (ByteView p : parts) Require(EVP_DigestUpdate(ctx, p.data(), p.size()) == 1);
  Require(EVP_DigestFinal_ex(ctx, out.data(), &len) == 1 && len == out.size());
}

}  // namespace

Sha256Digest Sha256(std::initializer_list<ByteView> parts) {
  ossl::MdCtx ctx(EVP_MD_CTX_new());
  Require(ctx && EVP_DigestInit_ex(ctx.get(), Sha256Md(), nullptr) == 1);
  Sha256Digest out{};
  Finish(ctx.get(), parts, out);
  return out;
}

Sha256PrefixAndWhole Sha256OfPrefixAndWhole(ByteView message, size_t prefix_size) {
  Require(prefix_size <= message.size());
  ossl::MdCtx whole(EVP_MD_CTX_new()), prefix(EVP_MD_CTX_new());
  Require(whole && prefix && EVP_DigestInit_ex(whole.get(), Sha256Md(), nullptr) == 1);
  Require(EVP_DigestUpdate(whole.get(), message.data(), prefix_size) == 1);
  Require(EVP_MD_CTX_copy_ex(prefix.get(), whole.get()) == 1);
  Sha256PrefixAndWhole out{};
  Finish(prefix.get(), {}, out.prefix);
  Finish(whole.get(), {message.subspan(prefix_size)}, out.whole);
  return out;
}

Sha256WithPrefix::Sha256WithPrefix(std::initializer_list<ByteView> prefix) : prefix_state_(EVP_MD_CTX_new()) {
  Require(prefix_state_ != nullptr && EVP_DigestInit_ex(prefix_state_, Sha256Md(), nullptr) == 1);
  for (ByteView p : prefix) Require(EVP_DigestUpdate(prefix_state_, p.data(), p.size()) == 1);
}

Sha256WithPrefix::~Sha256WithPrefix() { EVP_MD_CTX_free(prefix_state_); }

Sha256Digest Sha256WithPrefix::Digest(std::initializer_list<ByteView> rest) const {
  // One working context per thread, reused: copying the prefix state into it costs a few
  // dozen octets, where a fresh context would cost an allocation and a lookup.
  thread_local ossl::MdCtx work(EVP_MD_CTX_new());
  Require(work && EVP_MD_CTX_copy_ex(work.get(), prefix_state_) == 1);
  Sha256Digest out{};
  Finish(work.get(), rest, out);
  return out;
}

}  // namespace mcx
