#include "hsm/pin_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/bytes.h"
#include "base/guarded_memory.h"

namespace mcx::hsm {
namespace {

// Drops trailing CR/LF, as editors and `echo` add them.
size_t TrimmedLength(const uint8_t* p, size_t n) {
  while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r')) --n;
  return n;
}

Result<SecretBytes> ReadPinFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return Status::NotFound("cannot open the PIN file '" + path + "': " + std::strerror(errno) +
                            "; fix --pin-file or the configuration's hsm.pin_file");
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Status::InvalidArgument("the PIN file '" + path + "' is not a regular file");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::PermissionDenied("the PIN file '" + path + "' is accessible by other users (mode " + mode +
                                    "); run: chmod 600 '" + path + "'");
  }
  if (st.st_size <= 0 || st.st_size > 1024) {
    close(fd);
    return Status::InvalidArgument("the PIN file '" + path + "' is empty or longer than 1024 octets");
  }
  GuardedSecretScope guarded;
  SecretBytes buf(static_cast<size_t>(st.st_size));
  ssize_t n = read(fd, buf.data(), buf.size());
  close(fd);
  if (n != static_cast<ssize_t>(buf.size())) {
    return Status::Unavailable("could not read the PIN file '" + path + "'");
  }
  size_t len = TrimmedLength(buf.data(), buf.size());
  if (len == 0) return Status::InvalidArgument("the PIN file '" + path + "' holds no PIN");
  return SecretBytes(buf.view().first(len));
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

Result<SecretBytes> ReadPin(const PinSource& source) {
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
      return ReadPinFile(source.name);
    case PinSource::Kind::kNone:
      break;
  }
  return Status::InvalidArgument("no PIN source for the token: pass --pin-env NAME or --pin-file PATH");
}

}  // namespace mcx::hsm
