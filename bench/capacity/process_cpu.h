// ProcessCpuSampler: the CPU time another local process spends, sampled on a thread of its own,
// so that a load run can say how much of the machine the KMS it loaded used in the measured
// window. In a lab the load generator and the KMS share the cores, so requests/s alone mixes the
// two; requests per second of the server's own CPU time is what scales to a server with the
// cores to itself (a reconnect storm judged against the token-verification ceiling per core).
//
// Contract: Start(pid) reads /proc/PID/stat (utime + stime: every thread of the process) at once
// and then every `period` until the sampler is destroyed; NotFound when the process does not
// exist or /proc cannot be read (not Linux). CpuSecondsBetween(a, b) is the CPU time spent from a
// to b, interpolated linearly between the samples around each instant (it samples once more
// itself, so a window that has just ended is covered); Unavailable when the samples do not cover
// [a, b] (the process ended, or the window is outside the sampling).
// The resolution is the kernel's clock tick (10 ms), so a window of seconds is good to about 1%.
// Thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <condition_variable>
#include <vector>

#include "base/status.h"

namespace mcx::capacity {

class ProcessCpuSampler {
 public:
  using Clock = std::chrono::steady_clock;

  static Result<std::unique_ptr<ProcessCpuSampler>> Start(int pid,
                                                          std::chrono::milliseconds period = std::chrono::milliseconds(50));
  ~ProcessCpuSampler();
  ProcessCpuSampler(const ProcessCpuSampler&) = delete;
  ProcessCpuSampler& operator=(const ProcessCpuSampler&) = delete;

  Result<double> CpuSecondsBetween(Clock::time_point a, Clock::time_point b);
  int pid() const { return pid_; }

 private:
  struct Sample {
    Clock::time_point at;
    double cpu_seconds;
  };
  ProcessCpuSampler(int pid, std::chrono::milliseconds period) : pid_(pid), period_(period) {}
  void Loop();
  Result<double> CpuAt(Clock::time_point t) const;  // under mu_

  const int pid_;
  const std::chrono::milliseconds period_;
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::vector<Sample> samples_;
  std::thread thread_;
};

// utime + stime of process `pid` in seconds, from /proc/PID/stat.
Result<double> ReadProcessCpuSeconds(int pid);

}  // namespace mcx::capacity
