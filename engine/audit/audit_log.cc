#include "engine/audit/audit_log.h"

#include <pthread.h>
#include <pwd.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

namespace mcx {

Status RefuseUnlessRecorded(const Status& recorded, bool fail_open, const std::string& act) {
  if (recorded.ok()) return recorded;
  if (fail_open) {
    // The operator's choice (audit.on_failure = "serve"); it is said every time, never quietly.
    std::fprintf(stderr, "mcx-kms: WARNING: %s without an audit record (audit.on_failure = \"serve\"): %s\n",
                 act.c_str(), recorded.ToString().c_str());
    return Status::Ok();
  }
  return Status::Unavailable("the audit log cannot be written, so " + act + " is refused (audit.on_failure = "
                             "\"refuse\"): " + recorded.message());
}

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
  writer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "mcx-audit");  // for top -H and perf: where the time goes
    WriterLoop();
  });
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
  return Await(*Submit(std::move(g)));
}

AuditLog::Receipt AuditLog::Begin(const AuditEvent& event) {
  Group g;
  g.events.push_back(event);
  g.times.push_back(env_.NowUnixSeconds());
  Receipt r;
  r.log_ = this;
  r.waiter_ = Submit(std::move(g));
  return r;
}

Status AuditLog::Receipt::Wait() {
  if (log_ == nullptr) return Status::Ok();
  return log_->Await(*waiter_);
}

std::shared_ptr<AuditLog::Waiter> AuditLog::Submit(Group group) {
  auto waiter = std::make_shared<Waiter>();
  group.waiter = waiter;
  group.handed_in = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_records_ += group.events.size();
    queue_.push_back(std::move(group));
    ++submitted_;
  }
  work_cv_.notify_one();
  return waiter;
}

Status AuditLog::Await(Waiter& waiter) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!waiter.done && waiter.queued && !waiter.blocked) {
    // Someone waits for this group now: the writer stops gathering and commits.
    waiter.blocked = true;
    ++blocked_in_queue_;
    work_cv_.notify_one();
  }
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
  g.handed_in = std::chrono::steady_clock::now();
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
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to commit
    if (options_.gather_window.count() > 0) {
      work_cv_.wait_until(lock, queue_.front().handed_in + options_.gather_window, [&] {
        return stopping_ || blocked_in_queue_ > 0 || pending_records_ >= options_.max_records_per_commit;
      });
    }
    std::vector<Group> groups;
    size_t records = 0, async = 0;
    while (!queue_.empty() &&
           (groups.empty() || records + queue_.front().events.size() <= options_.max_records_per_commit)) {
      records += queue_.front().events.size();
      if (queue_.front().waiter == nullptr) ++async;
      if (Waiter* w = queue_.front().waiter.get()) {
        w->queued = false;
        if (w->blocked) --blocked_in_queue_;
      }
      groups.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    pending_async_ -= async;
    pending_records_ -= records;
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
