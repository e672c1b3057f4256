#include "bench/capacity/process_cpu.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace mcx::capacity {
namespace {

using Clock = ProcessCpuSampler::Clock;

// Spins the calling thread until `d` of wall time has passed.
void Spin(std::chrono::milliseconds d) {
  const Clock::time_point until = Clock::now() + d;
  volatile uint64_t x = 0;
  while (Clock::now() < until) x = x + 1;
}

TEST(ProcessCpuSamplerTest, TheWindowsCpuTimeMatchesTheProcessesOwnReadingsAroundIt) {
  Result<std::unique_ptr<ProcessCpuSampler>> sampler = ProcessCpuSampler::Start(getpid(), std::chrono::milliseconds(10));
  ASSERT_TRUE(sampler.ok()) << sampler.status().ToString();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));

  const Clock::time_point a = Clock::now();
  Result<double> before = ReadProcessCpuSeconds(getpid());
  Spin(std::chrono::milliseconds(300));
  Result<double> after = ReadProcessCpuSeconds(getpid());
  const Clock::time_point b = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(40));  // a sample after b
  ASSERT_TRUE(before.ok() && after.ok());

  Result<double> spent = (*sampler)->CpuSecondsBetween(a, b);
  ASSERT_TRUE(spent.ok()) << spent.status().ToString();
  // Interpolation is off by at most a sampling period (plus a clock tick) at each end; the spin
  // itself took whatever CPU the machine gave it, which both readings saw.
  EXPECT_NEAR(*spent, *after - *before, 0.1);
  EXPECT_GT(*spent, 0.0);
}

TEST(ProcessCpuSamplerTest, AWindowOutsideTheSamplesIsRefused) {
  Result<std::unique_ptr<ProcessCpuSampler>> sampler = ProcessCpuSampler::Start(getpid(), std::chrono::milliseconds(10));
  ASSERT_TRUE(sampler.ok());
  const Clock::time_point now = Clock::now();
  Result<double> before_start = (*sampler)->CpuSecondsBetween(now - std::chrono::seconds(5), now);
  EXPECT_EQ(before_start.status().code(), Status::Code::kUnavailable);
  Result<double> in_future = (*sampler)->CpuSecondsBetween(now, now + std::chrono::seconds(60));
  EXPECT_EQ(in_future.status().code(), Status::Code::kUnavailable);
}

TEST(ProcessCpuSamplerTest, AProcessThatIsNotRunningIsNamedInTheError) {
  // A child that has exited and been reaped: its PID is free.
  pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  Result<std::unique_ptr<ProcessCpuSampler>> sampler = ProcessCpuSampler::Start(child);
  ASSERT_FALSE(sampler.ok());
  EXPECT_EQ(sampler.status().code(), Status::Code::kNotFound);
  EXPECT_NE(sampler.status().message().find(std::to_string(child)), std::string::npos);
}

}  // namespace
}  // namespace mcx::capacity
