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
  Record(std::string(), user_uri, key_period_no);
}

void DeliveryRecorder::Record(const std::string& cert_uri, const std::string& user_uri, uint64_t key_period_no) {
  bool full_batch = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_.size() >= options_.max_pending) {
      ++dropped_;
      return;
    }
    pending_.push_back(PendingMark{cert_uri, KeySetRef{user_uri, key_period_no}});
    ++recorded_;
    full_batch = pending_.size() >= options_.batch;
  }
  if (full_batch) wake_.notify_one();
}

Status DeliveryRecorder::Flush() {
  std::vector<PendingMark> keys;
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

Status DeliveryRecorder::Write(std::vector<PendingMark> marks) {
  if (marks.empty()) return Status::Ok();
  // A device that reconnects asks for the same key set again and again; one mark is enough.
  std::sort(marks.begin(), marks.end(), [](const PendingMark& a, const PendingMark& b) {
    if (a.cert_uri != b.cert_uri) return a.cert_uri < b.cert_uri;
    return a.key.key_period_no != b.key.key_period_no ? a.key.key_period_no < b.key.key_period_no
                                                      : a.key.user_uri < b.key.user_uri;
  });
  marks.erase(std::unique(marks.begin(), marks.end(),
                          [](const PendingMark& a, const PendingMark& b) {
                            return a.cert_uri == b.cert_uri && a.key == b.key;
                          }),
              marks.end());
  const int64_t now = options_.env->NowUnixSeconds();
  Status result = Status::Ok();
  // One transaction per certificate (nearly always one).
  for (size_t begin = 0; begin < marks.size();) {
    size_t end = begin;
    std::vector<KeySetRef> keys;
    while (end < marks.size() && marks[end].cert_uri == marks[begin].cert_uri) keys.push_back(marks[end++].key);
    std::unique_ptr<KeyStore> other;
    KeyStore* store = &store_;
    if (!marks[begin].cert_uri.empty()) store = (other = store_.ForCertificate(marks[begin].cert_uri)).get();
    std::vector<KeySetRef> first;
    Result<size_t> changed = store->MarkDelivered(keys, now, options_.on_first_delivery ? &first : nullptr);
    if (changed.ok() && !first.empty()) {
      const std::string& cert = marks[begin].cert_uri.empty() ? store_.cert_uri() : marks[begin].cert_uri;
      options_.on_first_delivery(cert, first);
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!changed.ok()) {
      ++failed_writes_;
      result = changed.status().Annotate("marking " + std::to_string(keys.size()) + " key sets delivered");
    } else {
      marked_ += *changed;
    }
    begin = end;
  }
  return result;
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
