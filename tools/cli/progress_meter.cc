#include "tools/cli/progress_meter.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace mcx::cli {

std::string FormatDuration(double seconds) {
  if (seconds < 0) seconds = 0;
  const long s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, s / 60 % 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
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
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = total > 0 ? static_cast<int>(kWidth * static_cast<double>(done) / total) : 0;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    fmt::print(stderr, "\r[{}] {}/{} {}  {:.0f}/s  elapsed {}  ETA {}   ", bar, done, total, unit_, rate,
               FormatDuration(elapsed), final ? "done" : eta);
    if (final) std::fputc('\n', stderr);
  } else if (!final) {
    fmt::print(stderr, "progress: {}/{} {}, {:.0f}/s, elapsed {}, ETA {}\n", done, total, unit_, rate,
               FormatDuration(elapsed), eta);
  }
  std::fflush(stderr);
}

}  // namespace mcx::cli
