#include "engine/custody/file_staging.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace mcx {
namespace {

namespace fs = std::filesystem;

Status Errno(const std::string& what, const fs::path& p) {
  return Status::Unavailable(what + " '" + p.string() + "': " + std::strerror(errno));
}

Status SyncPath(const fs::path& p, int flags) {
  int fd = open(p.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", p);
  int rc = fsync(fd);
  close(fd);
  return rc == 0 ? Status::Ok() : Errno("cannot flush", p);
}

}  // namespace

Result<FileStaging> FileStaging::Begin(const fs::path& dir) {
  std::error_code ec;
  bool created = false;
  if (!fs::exists(dir, ec)) {
    created = fs::create_directories(dir, ec);
    if (ec) return Status::Unavailable("cannot create the directory '" + dir.string() + "': " + ec.message());
  } else if (!fs::is_directory(dir, ec)) {
    return Status::InvalidArgument("'" + dir.string() + "' is not a directory; choose another --data-dir");
  }
  std::string tmpl = (dir / ".staging-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    Status st = Errno("cannot create a staging directory in", dir);
    if (created) fs::remove(dir, ec);
    return st;
  }
  return FileStaging(dir, fs::path(tmpl), created);
}

FileStaging::FileStaging(FileStaging&& o) noexcept
    : dir_(std::move(o.dir_)), staging_(std::exchange(o.staging_, fs::path())),
      created_dir_(o.created_dir_), committed_(o.committed_), names_(std::move(o.names_)) {}

FileStaging::~FileStaging() {
  if (staging_.empty()) return;
  std::error_code ec;
  fs::remove_all(staging_, ec);
  if (!committed_ && created_dir_) fs::remove_all(dir_, ec);
}

Status FileStaging::Add(const std::string& name, ByteView contents, unsigned mode) {
  const fs::path p = staging_ / name;
  int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Errno("cannot create", p);
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = write(fd, contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return Errno("cannot write", p);
    }
    done += static_cast<size_t>(n);
  }
  fchmod(fd, mode);  // the umask may have narrowed it at open
  int rc = fsync(fd);
  close(fd);
  if (rc != 0) return Errno("cannot flush", p);
  names_.push_back(name);
  return Status::Ok();
}

Status FileStaging::Commit() {
  for (const std::string& name : names_) {
    if (std::rename((staging_ / name).c_str(), (dir_ / name).c_str()) != 0) {
      return Errno("cannot move into place", dir_ / name);
    }
  }
  committed_ = true;
  return SyncPath(dir_, O_RDONLY | O_DIRECTORY);
}

Result<Bytes> ReadWholeFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status::NotFound("cannot read '" + file.string() + "'");
  Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::Unavailable("error while reading '" + file.string() + "'");
  return data;
}

}  // namespace mcx
