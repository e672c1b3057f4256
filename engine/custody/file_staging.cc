#include "engine/custody/file_staging.h"

#include <utility>

namespace mcx {

namespace fs = std::filesystem;

Result<FileStaging> FileStaging::Begin(const fs::path& dir, Env& env) {
  bool created = false;
  if (!env.FileExists(dir)) {
    Result<bool> made = env.CreateDir(dir, 0700);
    if (!made.ok()) return made.status();
    created = *made;
  } else if (!env.IsDirectory(dir)) {
    return Status::InvalidArgument("'" + dir.string() + "' is not a directory; choose another --data-dir");
  }
  Result<fs::path> staging = env.CreateTempDir(dir, ".staging-");
  if (!staging.ok()) {
    if (created) (void)env.RemoveTree(dir);
    return staging.status();
  }
  return FileStaging(env, dir, std::move(staging).value(), created);
}

FileStaging::FileStaging(FileStaging&& o) noexcept
    : env_(o.env_), dir_(std::move(o.dir_)), staging_(std::exchange(o.staging_, fs::path())),
      created_dir_(o.created_dir_), committed_(o.committed_), names_(std::move(o.names_)) {}

FileStaging::~FileStaging() {
  if (staging_.empty()) return;
  (void)env_->RemoveTree(staging_);
  if (!committed_ && created_dir_) (void)env_->RemoveTree(dir_);
}

Status FileStaging::Add(const std::string& name, ByteView contents, unsigned mode) {
  MCX_RETURN_IF_ERROR(env_->WriteNewFile(staging_ / name, contents, mode));
  names_.push_back(name);
  return Status::Ok();
}

Status FileStaging::Commit() {
  for (const std::string& name : names_) {
    MCX_RETURN_IF_ERROR(env_->RenameFile(staging_ / name, dir_ / name));
  }
  committed_ = true;
  return env_->SyncDir(dir_);
}

}  // namespace mcx
