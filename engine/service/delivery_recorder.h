// DeliveryRecorder: marks key sets delivered in the store when the KMS hands them to a client,
// without putting a store write on the path of the request.
//
// Contract:
// - Record() never blocks on the store: it queues the key (a short mutex) and returns. A
//   background thread writes the queue in one transaction every `flush_interval`, or as soon as
//   `batch` keys are waiting; duplicates within a write are dropped first.
// - The queue is bounded (`max_pending`). When the store cannot keep up, further keys are not
//   queued and are counted in dropped(): a missed mark costs bookkeeping, never a key, and a
//   KMS under a reconnect storm must not grow without bound.
// - A failed write is counted in failed_writes() and its keys are not retried (the next delivery
//   of the same key set marks it).
// - Flush() writes everything queued so far and returns when it is in the store; the destructor
//   flushes too, so a graceful shutdown loses no mark.
// Safe to use from many threads at once. The store must outlive the recorder.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <span>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/env.h"
#include "engine/store/key_store.h"

namespace mcx {

class DeliveryRecorder {
 public:
  struct Options {
    std::chrono::milliseconds flush_interval{200};
    size_t batch = 1024;
    size_t max_pending = 65536;
    Env* env = &Env::Default();  // whose clock stamps the delivery time
    // Told, after each write, which key sets it marked delivered for the first time (the audit
    // log's key-set-delivered records). Called on the recorder's thread.
    std::function<void(const std::string& cert_uri, std::span<const KeySetRef> first)> on_first_delivery;
  };

  explicit DeliveryRecorder(KeyStore& store) : DeliveryRecorder(store, Options{}) {}
  DeliveryRecorder(KeyStore& store, Options options);
  ~DeliveryRecorder();
  DeliveryRecorder(const DeliveryRecorder&) = delete;
  DeliveryRecorder& operator=(const DeliveryRecorder&) = delete;

  // The key set of certificate `cert_uri` (the store's own when empty).
  void Record(const std::string& cert_uri, const std::string& user_uri, uint64_t key_period_no);
  void Record(const std::string& user_uri, uint64_t key_period_no);
  Status Flush();

  uint64_t recorded() const;       // keys accepted by Record()
  uint64_t marked() const;         // key sets that changed from issued to delivered
  uint64_t dropped() const;        // keys refused because the queue was full
  uint64_t failed_writes() const;  // store writes that failed

 private:
  void Run();
  struct PendingMark {
    std::string cert_uri;
    KeySetRef key;
  };
  // Writes `marks` (deduplicated) in one transaction per certificate; called without mu_ held.
  Status Write(std::vector<PendingMark> marks);

  KeyStore& store_;
  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::vector<PendingMark> pending_;
  bool stopping_ = false;
  uint64_t recorded_ = 0, marked_ = 0, dropped_ = 0, failed_writes_ = 0;
  std::mutex write_mu_;  // one Write at a time, so Flush() sees the thread's write finished
  std::thread thread_;
};

}  // namespace mcx
