#include "hsm/pin_source.h"

#include <cstdlib>

#include "base/bytes.h"
#include "base/guarded_memory.h"

namespace mcx::hsm {
namespace {

constexpr size_t kMaxPinFileSize = 1024;

// Drops trailing CR/LF, as editors and `echo` add them.
size_t TrimmedLength(const uint8_t* p, size_t n) {
  while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r')) --n;
  return n;
}

Result<SecretBytes> ReadPinFile(const std::string& path, Env& env) {
  GuardedSecretScope guarded;
  Result<SecretBytes> buf = env.ReadSecretFile(path, kMaxPinFileSize);
  if (!buf.ok()) {
    const Status& st = buf.status();
    if (st.code() == Status::Code::kNotFound) {
      return Status::NotFound("the PIN file: " + st.message() + "; fix --pin-file or the configuration's hsm.pin_file");
    }
    return st.Annotate("the PIN file");
  }
  size_t len = TrimmedLength(buf->data(), buf->size());
  if (len == 0) return Status::InvalidArgument("the PIN file '" + path + "' holds no PIN");
  return SecretBytes(buf->view().first(len));
}

}  // namespace

std::string PinSource::Describe() const {
  switch (kind) {
    case Kind::kEnvironment: return "environment variable " + name;
    case Kind::kFile: return "file '" + name + "'";
    case Kind::kNone: break;
  }
  return "no PIN source";
}

Result<SecretBytes> ReadPin(const PinSource& source, Env& env) {
  switch (source.kind) {
    case PinSource::Kind::kEnvironment: {
      const char* value = source.name.empty() ? nullptr : std::getenv(source.name.c_str());
      if (value == nullptr || value[0] == '\0') {
        return Status::InvalidArgument("the token PIN is to come from environment variable " + source.name +
                                       ", which is not set or empty; export it, or use --pin-file");
      }
      GuardedSecretScope guarded;
      return SecretBytes(AsBytes(value));
    }
    case PinSource::Kind::kFile:
      return ReadPinFile(source.name, env);
    case PinSource::Kind::kNone:
      break;
  }
  return Status::InvalidArgument("no PIN source for the token: pass --pin-env NAME or --pin-file PATH");
}

}  // namespace mcx::hsm
