#include "tools/cli/progress_meter.h"

#include <unistd.h>

#include <cstdio>

namespace mcx::cli {

std::string FormatDuration(double seconds) {
  if (seconds < 0) seconds = 0;
  long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s / 60 % 60);
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lds", s);
  }
  return buf;
}

ProgressMeter::ProgressMeter(std::string unit, uint64_t total, std::function<uint64_t()> done)
    : unit_(std::move(unit)),
      total_(total),
      done_(std::move(done)),
      tty_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      thread_([this] { Loop(); }) {}

ProgressMeter::~ProgressMeter() { Stop(); }

void ProgressMeter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  Draw(/*final=*/true);
}

void ProgressMeter::Loop() {
  const auto period = tty_ ? std::chrono::milliseconds(250) : std::chrono::milliseconds(5000);
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, period, [this] { return stopping_; })) {
    lock.unlock();
    Draw(/*final=*/false);
    lock.lock();
  }
}

void ProgressMeter::Draw(bool final) {
  const uint64_t done = done_();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? done / elapsed : 0;
  const uint64_t total = total_ > done ? total_ : done;
  std::string eta = "--";
  if (rate > 0 && total > done) eta = FormatDuration((total - done) / rate);
  char line[256];
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = total > 0 ? static_cast<int>(kWidth * static_cast<double>(done) / total) : 0;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::snprintf(line, sizeof line, "\r[%s] %llu/%llu %s  %.0f/s  elapsed %s  ETA %s   ", bar.c_str(),
                  static_cast<unsigned long long>(done), static_cast<unsigned long long>(total), unit_.c_str(), rate,
                  FormatDuration(elapsed).c_str(), final ? "done" : eta.c_str());
    std::fputs(line, stderr);
    if (final) std::fputc('\n', stderr);
  } else if (!final) {
    std::snprintf(line, sizeof line, "progress: %llu/%llu %s, %.0f/s, elapsed %s, ETA %s\n",
                  static_cast<unsigned long long>(done), static_cast<unsigned long long>(total), unit_.c_str(), rate,
                  FormatDuration(elapsed).c_str(), eta.c_str());
    std::fputs(line, stderr);
  }
  std::fflush(stderr);
}

}  // namespace mcx::cli
