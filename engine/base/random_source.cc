#include "engine/base/random_source.h"

#include <climits>

#include <openssl/rand.h>

namespace mcx {

Status OpenSslRandom::Fill(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    size_t chunk = std::min<size_t>(out.size() - done, INT_MAX);
    if (RAND_bytes(out.data() + done, static_cast<int>(chunk)) != 1) {
      return Status::Unavailable("the OpenSSL random generator failed (is the system entropy source usable?)");
    }
    done += chunk;
  }
  return Status::Ok();
}

}  // namespace mcx
