// ProgressMeter: shows a long job's progress while it runs.
//
// On a terminal: one line redrawn in place, with a bar, done/total, rate and ETA. In a log (no
// TTY): a plain progress line every few seconds. It samples a counter from its own thread, so the
// job never waits for the display.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace mcx::cli {

class ProgressMeter {
 public:
  // `done` is polled; `total` may be an estimate (0 when unknown). `unit` names what is counted.
  ProgressMeter(std::string unit, uint64_t total, std::function<uint64_t()> done);
  ~ProgressMeter();  // stops and finishes the line

  void Stop();

 private:
  void Loop();
  void Draw(bool final);

  std::string unit_;
  uint64_t total_;
  std::function<uint64_t()> done_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// "1h02m", "4m05s", "12s"
std::string FormatDuration(double seconds);

}  // namespace mcx::cli
