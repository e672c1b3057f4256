#include "engine/audit/audit_log.h"

#include <pwd.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

namespace mcx {

std::string LocalAuditNode() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

std::string LocalOperator() {
  const uid_t uid = geteuid();
  std::string name = "uid " + std::to_string(uid);
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[4096];
  if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found != nullptr) name = found->pw_name;
  if (const char* sudo = std::getenv("SUDO_USER"); sudo != nullptr && *sudo != '\0') {
    name += " (via sudo by " + std::string(sudo) + ")";
  }
  return name;
}

AuditLog::AuditLog(AuditStore& store, RecordAuthenticator& authenticator, AuditLogOptions options, Env& env)
    : store_(store),
      auth_(authenticator),
      options_(std::move(options)),
      node_(options_.node.empty() ? LocalAuditNode() : options_.node),
      env_(env) {
  writer_ = std::thread([this] { WriterLoop(); });
}

AuditLog::~AuditLog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  writer_.join();
}

Status AuditLog::Record(const AuditEvent& event) { return Record(std::span<const AuditEvent>(&event, 1)); }

Status AuditLog::Record(std::span<const AuditEvent> events) {
  if (events.empty()) return Status::Ok();
  Group g;
  g.events.assign(events.begin(), events.end());
  const int64_t now = env_.NowUnixSeconds();
  g.times.assign(events.size(), now);
  Waiter waiter;
  return Submit(std::move(g), waiter);
}

Status AuditLog::Submit(Group group, Waiter& waiter) {
  group.waiter = &waiter;
  std::unique_lock<std::mutex> lock(mu_);
  pending_records_ += group.events.size();
  queue_.push_back(std::move(group));
  ++submitted_;
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return waiter.done; });
  return waiter.status;
}

void AuditLog::RecordAsync(AuditEvent event) {
  const int64_t now = env_.NowUnixSeconds();
  std::lock_guard<std::mutex> lock(mu_);
  if (pending_async_ >= options_.max_pending_async) {
    ++counters_.dropped_async;
    health_ = Status::Unavailable("audit log: " + std::to_string(counters_.dropped_async) +
                                  " asynchronous events (refused requests) were dropped: the audit writer cannot keep "
                                  "up or the store is failing");
    return;
  }
  Group g;
  g.events.push_back(std::move(event));
  g.times.push_back(now);
  queue_.push_back(std::move(g));
  ++pending_async_;
  ++pending_records_;
  ++submitted_;
  work_cv_.notify_one();
}

void AuditLog::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = submitted_;
  done_cv_.wait(lock, [&] { return finished_ >= target; });
}

Status AuditLog::Health() const {
  std::lock_guard<std::mutex> lock(mu_);
  return health_;
}

AuditLog::Counters AuditLog::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

Result<std::vector<AuditRecord>> AuditLog::Seal(const std::vector<Group>& groups, const AuditChainTip& tip) {
  std::vector<AuditRecord> records;
  uint64_t seq = tip.seq;
  AuditHash prev = tip.hash;
  for (const Group& g : groups) {
    for (size_t i = 0; i < g.events.size(); ++i) {
      const AuditEvent& e = g.events[i];
      AuditRecord r;
      r.node = node_;
      r.seq = ++seq;
      r.time = g.times[i];
      r.kind = AuditEventKindName(e.kind);
      r.actor = e.actor;
      r.user_uri = e.user_uri;
      r.cert_uri = e.cert_uri;
      r.detail = e.detail;
      r.prev_hash = prev;
      r.hash = ComputeAuditHash(r);
      Result<AuditMac> mac = auth_.Authenticate(r.hash);
      if (!mac.ok()) return mac.status().Annotate("audit log: authenticating record " + std::to_string(r.seq));
      r.mac = *mac;
      prev = r.hash;
      records.push_back(std::move(r));
    }
  }
  return records;
}

void AuditLog::WriterLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  size_t last_commit = 0;  // records in the previous transaction
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to commit
    if (last_commit > 1 && options_.gather_window.count() > 0) {
      work_cv_.wait_for(lock, options_.gather_window, [&] { return stopping_ || pending_records_ >= last_commit; });
    }
    std::vector<Group> groups;
    size_t records = 0, async = 0;
    while (!queue_.empty() &&
           (groups.empty() || records + queue_.front().events.size() <= options_.max_records_per_commit)) {
      records += queue_.front().events.size();
      if (queue_.front().waiter == nullptr) ++async;
      groups.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    pending_async_ -= async;
    pending_records_ -= records;
    last_commit = records;
    lock.unlock();
    const Status s = store_.Append(node_, [&](const AuditChainTip& tip) { return Seal(groups, tip); });
    lock.lock();
    if (s.ok()) {
      counters_.committed += records;
      ++counters_.transactions;
      health_ = Status::Ok();
    } else {
      counters_.failed += records;
      health_ = s;
    }
    for (Group& g : groups) {
      if (g.waiter != nullptr) {
        g.waiter->status = s;
        g.waiter->done = true;
      }
    }
    finished_ += groups.size();
    done_cv_.notify_all();
  }
}

}  // namespace mcx
