// FakeEnv: the real Env, with a clock the test sets and writes the test makes fail.
//
// The clock starts at the real time; SetUnixSeconds/Advance move it, and it stays where it is
// put. FailWrite(n, err) makes the n-th WriteNewFile from now on (1 = the next) fail with that
// errno, as a full disk (ENOSPC) or a failing device (EIO) would; nothing is written then (the
// real Env removes a half-written file, so a caller sees the same). FailWritesTo(name, err)
// fails every write of a file so named. Safe to use from many threads.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>

#include "base/env.h"

namespace mcx::testing {

class FakeEnv final : public EnvWrapper {
 public:
  FakeEnv() : EnvWrapper(Env::Default()), now_(Env::Default().NowUnixSeconds()) {}

  void SetUnixSeconds(int64_t t) { now_ = t; }
  void Advance(int64_t seconds) { now_ += seconds; }
  int64_t NowUnixSeconds() override { return now_; }

  void FailWrite(int nth, int err) {
    std::lock_guard<std::mutex> lock(mu_);
    countdown_ = nth;
    err_ = err;
  }
  void FailWritesTo(std::string file_name, int err) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_name_ = std::move(file_name);
    err_ = err;
  }
  int writes() const { return writes_; }
  int failed_writes() const { return failed_; }

  Status WriteNewFile(const std::filesystem::path& p, ByteView contents, unsigned mode) override {
    ++writes_;
    int err = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (countdown_ > 0 && --countdown_ == 0) err = err_;
      if (!fail_name_.empty() && p.filename() == fail_name_) err = err_;
    }
    if (err == 0) return target().WriteNewFile(p, contents, mode);
    ++failed_;
    return Status::Unavailable("cannot write '" + p.string() + "': " + std::strerror(err) + " (injected by FakeEnv)");
  }

 private:
  std::atomic<int64_t> now_;
  std::atomic<int> writes_{0}, failed_{0};
  std::mutex mu_;
  int countdown_ = 0;
  int err_ = 0;
  std::string fail_name_;
};

}  // namespace mcx::testing
