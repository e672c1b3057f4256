#include "base/env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace mcx {
namespace {

namespace fs = std::filesystem;

std::string Quoted(const fs::path& p) { return "'" + p.string() + "'"; }

// "cannot <what> '<path>': <strerror>", with advice for the errors an operator can fix.
Status OsError(const std::string& what, const fs::path& p, int err) {
  std::string msg = "cannot " + what + " " + Quoted(p) + ": " + std::strerror(err);
  switch (err) {
    case ENOENT: return Status::NotFound(msg + "; check the path");
    case EACCES:
    case EPERM: return Status::PermissionDenied(msg + "; check the permissions of the file and its directory");
    case ENOSPC:
    case EDQUOT: return Status::Unavailable(msg + "; free space on its file system and try again");
    case EROFS: return Status::Unavailable(msg + "; the file system is read-only, choose a writable directory");
    default: return Status::Unavailable(msg);
  }
}

Status OsError(const std::string& what, const fs::path& p, const std::error_code& ec) {
  return OsError(what, p, ec.value());
}

// Reads exactly `n` octets, or fewer at end of file; -1 on error (errno set).
ssize_t ReadFully(int fd, uint8_t* out, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = read(fd, out + done, n - done);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(done);
}

class PosixEnv final : public Env {
 public:
  int64_t NowUnixSeconds() override {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  Result<Bytes> ReadFile(const fs::path& path) override {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return OsError("read", path, errno);
    Bytes data;
    uint8_t chunk[16384];
    for (;;) {
      ssize_t n = ReadFully(fd, chunk, sizeof chunk);
      if (n < 0) {
        const int err = errno;
        close(fd);
        return OsError("read", path, err);
      }
      data.insert(data.end(), chunk, chunk + n);
      if (static_cast<size_t>(n) < sizeof chunk) break;
    }
    close(fd);
    return data;
  }

  Result<SecretBytes> ReadSecretFile(const fs::path& path, size_t max_size) override {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return OsError("open", path, errno);
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      return Status::InvalidArgument(Quoted(path) + " is not a regular file");
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
      close(fd);
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      return Status::PermissionDenied(Quoted(path) + " is accessible by other users (mode " + mode +
                                      "); run: chmod 600 " + Quoted(path));
    }
    if (st.st_size <= 0 || static_cast<uint64_t>(st.st_size) > max_size) {
      close(fd);
      return Status::InvalidArgument(Quoted(path) + " is empty or longer than " + std::to_string(max_size) +
                                     " octets");
    }
    SecretBytes buf(static_cast<size_t>(st.st_size));
    ssize_t n = ReadFully(fd, buf.data(), buf.size());
    const int err = errno;
    close(fd);
    if (n < 0) return OsError("read", path, err);
    if (static_cast<size_t>(n) != buf.size()) {
      return Status::Unavailable(Quoted(path) + " changed while it was read; try again");
    }
    return buf;
  }

  Status WriteNewFile(const fs::path& path, ByteView contents, unsigned mode) override {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) return OsError("create", path, errno);
    auto fail = [&](const char* what) {
      const int err = errno;
      close(fd);
      unlink(path.c_str());
      return OsError(what, path, err);
    };
    size_t done = 0;
    while (done < contents.size()) {
      ssize_t n = write(fd, contents.data() + done, contents.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail("write");
      }
      done += static_cast<size_t>(n);
    }
    if (fchmod(fd, mode) != 0) return fail("set the permissions of");  // the umask may have narrowed them
    if (fsync(fd) != 0) return fail("flush");
    if (close(fd) != 0) {
      const int err = errno;
      unlink(path.c_str());
      return OsError("close", path, err);
    }
    return Status::Ok();
  }

  bool FileExists(const fs::path& path) override {
    std::error_code ec;
    return fs::exists(path, ec);
  }

  bool IsDirectory(const fs::path& path) override {
    std::error_code ec;
    return fs::is_directory(path, ec);
  }

  Result<std::vector<std::string>> GetChildren(const fs::path& dir) override {
    std::error_code ec;
    std::vector<std::string> names;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      names.push_back(it->path().filename().string());
    }
    if (ec) return OsError("list", dir, ec);
    return names;
  }

  Status RenameFile(const fs::path& from, const fs::path& to) override {
    if (std::rename(from.c_str(), to.c_str()) != 0) return OsError("move " + Quoted(from) + " to", to, errno);
    return Status::Ok();
  }

  Status RemoveFile(const fs::path& path) override {
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return OsError("remove", path, errno);
    return Status::Ok();
  }

  Status RemoveTree(const fs::path& path) override {
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) return OsError("remove", path, ec);
    return Status::Ok();
  }

  Result<bool> CreateDir(const fs::path& dir, unsigned mode) override {
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return false;
    const fs::path parent = dir.parent_path();
    if (!parent.empty() && !fs::exists(parent, ec)) {
      fs::create_directories(parent, ec);
      if (ec) return OsError("create the directory", parent, ec);
    }
    if (mkdir(dir.c_str(), mode) != 0) {
      if (errno == EEXIST && fs::is_directory(dir, ec)) return false;  // another process was first
      return OsError("create the directory", dir, errno);
    }
    return true;
  }

  Result<fs::path> CreateTempDir(const fs::path& dir, const std::string& prefix) override {
    std::string tmpl = (dir / (prefix + "XXXXXX")).string();
    if (mkdtemp(tmpl.data()) == nullptr) return OsError("create a directory in", dir, errno);
    return fs::path(tmpl);
  }

  Status SyncDir(const fs::path& dir) override {
    int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return OsError("open", dir, errno);
    const int rc = fsync(fd);
    const int err = errno;
    close(fd);
    return rc == 0 ? Status::Ok() : OsError("flush", dir, err);
  }
};

}  // namespace

Env& Env::Default() {
  static Env* env = new PosixEnv;  // never destroyed: usable from other static destructors
  return *env;
}

Status Env::WriteFileAtomically(const fs::path& path, ByteView contents, unsigned mode) {
  static std::atomic<uint64_t> counter{0};
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const fs::path tmp = dir / ("." + path.filename().string() + ".tmp-" + std::to_string(getpid()) + "-" +
                              std::to_string(counter.fetch_add(1)));
  MCX_RETURN_IF_ERROR(RemoveFile(tmp));  // a leftover of a crashed writer with the same pid
  MCX_RETURN_IF_ERROR(WriteNewFile(tmp, contents, mode));
  Status st = RenameFile(tmp, path);
  if (!st.ok()) {
    (void)RemoveFile(tmp);
    return st;
  }
  return SyncDir(dir);
}

}  // namespace mcx
