// FileStaging: several new files that replace their namesakes in a directory all together.
//
// Files are written into a hidden staging directory inside the target (same file system), each
// fsync'd; Commit() renames them into place in the order they were added (so the file that marks
// a complete state goes last) and fsyncs the directory. Until Commit(), the target is untouched;
// the destructor removes whatever was not committed, so a failed operation leaves no trace.
// All file access goes through the Env given to Begin().
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/env.h"
#include "base/status.h"

namespace mcx {

class FileStaging {
 public:
  // Creates `dir` if needed, mode 0700 (and removes it again if nothing is committed).
  static Result<FileStaging> Begin(const std::filesystem::path& dir, Env& env = Env::Default());
  FileStaging(FileStaging&& o) noexcept;
  FileStaging& operator=(FileStaging&&) = delete;
  ~FileStaging();

  // Stages `name` (a plain file name) with these contents and permission bits.
  Status Add(const std::string& name, ByteView contents, unsigned mode = 0600);
  // Where a staged file lives until Commit(), for files a library must read first.
  std::filesystem::path StagedPath(const std::string& name) const { return staging_ / name; }
  Status Commit();

 private:
  FileStaging(Env& env, std::filesystem::path dir, std::filesystem::path staging, bool created_dir)
      : env_(&env), dir_(std::move(dir)), staging_(std::move(staging)), created_dir_(created_dir) {}
  Env* env_;
  std::filesystem::path dir_, staging_;
  bool created_dir_ = false;
  bool committed_ = false;
  std::vector<std::string> names_;
};

}  // namespace mcx
