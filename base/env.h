// Env: what the operating system gives the KMS — the wall clock and the file system — behind one
// interface, in the manner of LevelDB's Env.
//
// Code that reads the time or touches a file takes an Env where it is built (default:
// Env::Default(), the real one) and never calls time() or opens a file itself, so a test can
// move the clock and make a write fail (tests/support/fake_env.h). Env::Default() lives for the
// whole process and is safe to use from many threads at once.
// Errors are Status values that name the path and the operating system's reason, and say what
// to do; they never carry a file's contents.
// Not here: SQLite's own files (SQLite has its VFS), the PKCS#11 module (dlopen), streams of a
// population file (engine/bulk), and the monotonic clocks that measure latency and rates.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/secret.h"
#include "base/status.h"

namespace mcx {

class Env {
 public:
  virtual ~Env() = default;

  // The process's real Env.
  static Env& Default();

  // Wall-clock time in Unix seconds (UTC). The engine turns it into NTP seconds (NtpNow in
  // engine/keys/key_period.h).
  virtual int64_t NowUnixSeconds() = 0;

  // The whole of a file. NotFound when it does not exist; Unavailable on any other failure.
  virtual Result<Bytes> ReadFile(const std::filesystem::path& path) = 0;
  // The whole of a file that holds a secret (a PIN), read straight into a SecretBytes (guarded
  // when a GuardedSecretScope is active). Refuses a symbolic link, anything but a regular file,
  // a file that group or others may access (PermissionDenied) and one longer than `max_size`.
  virtual Result<SecretBytes> ReadSecretFile(const std::filesystem::path& path, size_t max_size) = 0;

  // Creates `path`, which must not exist yet, with these contents and permission bits (the umask
  // does not narrow them), and flushes it to disk before returning. On failure nothing is left.
  virtual Status WriteNewFile(const std::filesystem::path& path, ByteView contents, unsigned mode) = 0;
  // Replaces `path` (or creates it) so that a reader sees either the old or the new contents,
  // never a mixture, even across a crash: a temporary file in the same directory, flushed, renamed
  // over `path`, and the directory flushed.
  virtual Status WriteFileAtomically(const std::filesystem::path& path, ByteView contents, unsigned mode);

  virtual bool FileExists(const std::filesystem::path& path) = 0;
  virtual bool IsDirectory(const std::filesystem::path& path) = 0;
  // The names (not paths) of the entries of a directory, without "." and "..", in no set order.
  virtual Result<std::vector<std::string>> GetChildren(const std::filesystem::path& dir) = 0;
  // Renames atomically, replacing `to` if it exists (rename(2): both on one file system).
  virtual Status RenameFile(const std::filesystem::path& from, const std::filesystem::path& to) = 0;
  // Removes a file; one that is already gone is not an error.
  virtual Status RemoveFile(const std::filesystem::path& path) = 0;
  // Removes a directory and all it holds; one that is already gone is not an error.
  virtual Status RemoveTree(const std::filesystem::path& path) = 0;
  // Creates a directory, and its missing parents, with these permission bits narrowed by the
  // umask, as mkdir(2) does. Returns whether it created `dir` (false: it was there already).
  virtual Result<bool> CreateDir(const std::filesystem::path& dir, unsigned mode) = 0;
  // Creates a fresh directory <dir>/<prefix>XXXXXX (mode 0700) and returns its path.
  virtual Result<std::filesystem::path> CreateTempDir(const std::filesystem::path& dir, const std::string& prefix) = 0;
  // Flushes a directory's entries (after a rename or a new file in it) to disk.
  virtual Status SyncDir(const std::filesystem::path& dir) = 0;
};

// An Env that passes every call to another; a test Env derives from it and overrides a few.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env& target) : target_(target) {}
  Env& target() const { return target_; }

  int64_t NowUnixSeconds() override { return target_.NowUnixSeconds(); }
  Result<Bytes> ReadFile(const std::filesystem::path& p) override { return target_.ReadFile(p); }
  Result<SecretBytes> ReadSecretFile(const std::filesystem::path& p, size_t max_size) override {
    return target_.ReadSecretFile(p, max_size);
  }
  Status WriteNewFile(const std::filesystem::path& p, ByteView contents, unsigned mode) override {
    return target_.WriteNewFile(p, contents, mode);
  }
  bool FileExists(const std::filesystem::path& p) override { return target_.FileExists(p); }
  bool IsDirectory(const std::filesystem::path& p) override { return target_.IsDirectory(p); }
  Result<std::vector<std::string>> GetChildren(const std::filesystem::path& d) override { return target_.GetChildren(d); }
  Status RenameFile(const std::filesystem::path& from, const std::filesystem::path& to) override {
    return target_.RenameFile(from, to);
  }
  Status RemoveFile(const std::filesystem::path& p) override { return target_.RemoveFile(p); }
  Status RemoveTree(const std::filesystem::path& p) override { return target_.RemoveTree(p); }
  Result<bool> CreateDir(const std::filesystem::path& d, unsigned mode) override { return target_.CreateDir(d, mode); }
  Result<std::filesystem::path> CreateTempDir(const std::filesystem::path& d, const std::string& prefix) override {
    return target_.CreateTempDir(d, prefix);
  }
  Status SyncDir(const std::filesystem::path& d) override { return target_.SyncDir(d); }

 private:
  Env& target_;
};

}  // namespace mcx
