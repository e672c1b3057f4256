#include "engine/service/delivery_recorder.h"

#include <algorithm>

namespace mcx {

DeliveryRecorder::DeliveryRecorder(KeyStore& store, Options options)
    : store_(store), options_(options), thread_([this] { Run(); }) {}

DeliveryRecorder::~DeliveryRecorder() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  (void)Flush();
}

void DeliveryRecorder::Record(const std::string& user_uri, uint64_t key_period_no) {
  bool full_batch = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_.size() >= options_.max_pending) {
      ++dropped_;
      return;
    }
    pending_.push_back(KeySetRef{user_uri, key_period_no});
    ++recorded_;
    full_batch = pending_.size() >= options_.batch;
  }
  if (full_batch) wake_.notify_one();
}

Status DeliveryRecorder::Flush() {
  std::vector<KeySetRef> keys;
  std::lock_guard<std::mutex> writing(write_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    keys.swap(pending_);
  }
  return Write(std::move(keys));
}

void DeliveryRecorder::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, options_.flush_interval,
                   [this] { return stopping_ || pending_.size() >= options_.batch; });
    if (pending_.empty()) continue;
    lock.unlock();
    (void)Flush();
    lock.lock();
  }
}

Status DeliveryRecorder::Write(std::vector<KeySetRef> keys) {
  if (keys.empty()) return Status::Ok();
  // A device that reconnects asks for the same key set again and again; one mark is enough.
  std::sort(keys.begin(), keys.end(), [](const KeySetRef& a, const KeySetRef& b) {
    return a.key_period_no != b.key_period_no ? a.key_period_no < b.key_period_no : a.user_uri < b.user_uri;
  });
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  Result<size_t> changed = store_.MarkDelivered(keys, options_.env->NowUnixSeconds());
  std::lock_guard<std::mutex> lock(mu_);
  if (!changed.ok()) {
    ++failed_writes_;
    return changed.status().Annotate("marking " + std::to_string(keys.size()) + " key sets delivered");
  }
  marked_ += *changed;
  return Status::Ok();
}

uint64_t DeliveryRecorder::recorded() const {
  std::lock_guard<std::mutex> lock(mu_);
  return recorded_;
}
uint64_t DeliveryRecorder::marked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return marked_;
}
uint64_t DeliveryRecorder::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}
uint64_t DeliveryRecorder::failed_writes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_writes_;
}

}  // namespace mcx
