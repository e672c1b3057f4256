#include "bench/capacity/process_cpu.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace mcx::capacity {

Result<double> ReadProcessCpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!in || !std::getline(in, stat)) {
    return Status::NotFound("process " + std::to_string(pid) + " is not running here (no /proc/" + std::to_string(pid) +
                            "/stat): give the PID of the local mcx-kms serve");
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return Status::Internal("/proc/" + std::to_string(pid) + "/stat is not in the expected form");
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {  // field 3 is the state; 14 utime, 15 stime
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  static const long ticks = sysconf(_SC_CLK_TCK);
  return static_cast<double>(utime + stime) / static_cast<double>(ticks > 0 ? ticks : 100);
}

Result<std::unique_ptr<ProcessCpuSampler>> ProcessCpuSampler::Start(int pid, std::chrono::milliseconds period) {
  Result<double> first = ReadProcessCpuSeconds(pid);
  if (!first.ok()) return first.status();
  std::unique_ptr<ProcessCpuSampler> s(new ProcessCpuSampler(pid, period));
  s->samples_.push_back({Clock::now(), *first});
  s->thread_ = std::thread([p = s.get()] { p->Loop(); });
  return s;
}

ProcessCpuSampler::~ProcessCpuSampler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ProcessCpuSampler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_cv_.wait_for(lock, period_, [this] { return stopping_; })) {
    lock.unlock();
    Result<double> cpu = ReadProcessCpuSeconds(pid_);
    const Clock::time_point at = Clock::now();
    lock.lock();
    if (!cpu.ok()) return;  // the process ended: the samples so far stand
    samples_.push_back({at, *cpu});
  }
}

Result<double> ProcessCpuSampler::CpuAt(Clock::time_point t) const {
  if (samples_.empty() || t < samples_.front().at || t > samples_.back().at) {
    return Status::Unavailable("the server's CPU was not sampled over the whole measured window (did it exit?)");
  }
  for (size_t i = 1; i < samples_.size(); ++i) {
    const Sample& lo = samples_[i - 1];
    const Sample& hi = samples_[i];
    if (t > hi.at) continue;
    const double span = std::chrono::duration<double>(hi.at - lo.at).count();
    const double part = span > 0 ? std::chrono::duration<double>(t - lo.at).count() / span : 0;
    return lo.cpu_seconds + part * (hi.cpu_seconds - lo.cpu_seconds);
  }
  return samples_.back().cpu_seconds;
}

Result<double> ProcessCpuSampler::CpuSecondsBetween(Clock::time_point a, Clock::time_point b) {
  // A sample now, so that a window that has just ended is covered without waiting a period.
  Result<double> now_cpu = ReadProcessCpuSeconds(pid_);
  const Clock::time_point now = Clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  if (now_cpu.ok() && (samples_.empty() || now > samples_.back().at)) samples_.push_back({now, *now_cpu});
  Result<double> at_a = CpuAt(a);
  if (!at_a.ok()) return at_a.status();
  Result<double> at_b = CpuAt(b);
  if (!at_b.ok()) return at_b.status();
  return *at_b - *at_a;
}

}  // namespace mcx::capacity
