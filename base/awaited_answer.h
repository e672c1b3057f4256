// AwaitAnswer: a blocking call over an asynchronous one.
//
// Calls `start` with a callback and blocks until that callback has been called, once, on any
// thread (or on this one, before `start` returns); returns what it was given.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <utility>

namespace mcx {

template <typename T, typename Start>
T AwaitAnswer(Start&& start) {
  std::mutex mu;
  std::condition_variable answered;
  std::optional<T> answer;
  std::forward<Start>(start)([&](T value) {
    std::lock_guard<std::mutex> lock(mu);
    answer.emplace(std::move(value));
    answered.notify_one();  // under the lock: the waiter may return and free `answered` at once
  });
  std::unique_lock<std::mutex> lock(mu);
  answered.wait(lock, [&] { return answer.has_value(); });
  return std::move(*answer);
}

}  // namespace mcx
