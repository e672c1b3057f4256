// AuditLog: appends a node's audit records, many callers at once, through one writer thread.
//
// Record() returns OK only once the event's record is committed (durable as the store makes it:
// SqliteAuditStore fsyncs each commit by default), so a fail-closed caller may hand out key
// material after an OK and must refuse on an error. RecordAsync() is for events nobody waits on
// (refused requests): it returns at once and its failure shows only in Health().
//
// Group commit: the writer thread takes every event pending (whole Record calls, never split, up
// to max_records_per_commit) and appends them in ONE store transaction: it reads the node's tip,
// numbers and chains the records, has each record's hash MAC'd (one HMAC per record), inserts and
// commits, then wakes every waiter with the one result. A failure goes to every waiter of that
// transaction, and Health() reports it until a later append succeeds. Events are timestamped when
// handed in (the Env's clock), chained in the order the writer takes them.
//
// Never call Record() while holding a write transaction on the same database (SQLite has one
// writer per file): the append would wait for that transaction, which waits for the append.
// KeyStore calls each commit before they return, so calling Record() between them is safe.
//
// Thread-safe. The destructor commits what is pending, then stops the writer; the store and the
// authenticator must outlive the AuditLog.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/env.h"
#include "engine/audit/audit_event.h"
#include "engine/audit/audit_record.h"
#include "engine/audit/audit_store.h"

namespace mcx {

struct AuditLogOptions {
  std::string node;                        // this host's chain; empty: LocalAuditNode()
  size_t max_records_per_commit = 4096;    // bounds one transaction (a Record call is never split)
  size_t max_pending_async = 100000;       // RecordAsync beyond this drops the event (Health says so)
  // After a commit of several records, the writer waits up to this long for as many to be pending
  // again before it starts the next one: the callers it just woke come back with their next
  // event a moment later, and one commit (one fsync) then serves them all. Zero: never wait.
  std::chrono::microseconds gather_window{500};
};

// The host name, the default node.
std::string LocalAuditNode();
// The operating-system user running this process ("alice", or "uid 1001"), plus "via sudo" and
// the invoking user when run under sudo: the actor of an administrative command.
std::string LocalOperator();

class AuditLog {
 public:
  AuditLog(AuditStore& store, RecordAuthenticator& authenticator, AuditLogOptions options = {},
           Env& env = Env::Default());
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Blocks until the record is committed or has failed.
  Status Record(const AuditEvent& event);
  // All of these in one transaction, consecutive in the chain: all committed, or none.
  Status Record(std::span<const AuditEvent> events);
  // Queues the event and returns; a failure shows in Health() only.
  void RecordAsync(AuditEvent event);
  // Waits until everything handed in before this call is committed or has failed.
  void Flush();

  // OK, or the last failure (a failed append, dropped asynchronous events) until an append succeeds.
  Status Health() const;

  struct Counters {
    uint64_t committed = 0;      // records
    uint64_t failed = 0;         // records whose append failed
    uint64_t dropped_async = 0;  // RecordAsync events dropped because the queue was full
    uint64_t transactions = 0;   // commits that succeeded
  };
  Counters counters() const;
  const std::string& node() const { return node_; }

 private:
  struct Waiter {
    Status status;
    bool done = false;
  };
  struct Group {
    std::vector<AuditEvent> events;
    std::vector<int64_t> times;
    Waiter* waiter = nullptr;  // null: asynchronous
  };

  Status Submit(Group group, Waiter& waiter);
  void WriterLoop();
  Result<std::vector<AuditRecord>> Seal(const std::vector<Group>& groups, const AuditChainTip& tip);

  AuditStore& store_;
  RecordAuthenticator& auth_;
  const AuditLogOptions options_;
  const std::string node_;
  Env& env_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // the writer waits for groups
  std::condition_variable done_cv_;  // callers wait for their group's result
  std::deque<Group> queue_;
  size_t pending_async_ = 0;
  size_t pending_records_ = 0;  // events in queue_
  uint64_t submitted_ = 0, finished_ = 0;  // groups, for Flush()
  bool stopping_ = false;
  Status health_;
  Counters counters_;
  std::thread writer_;
};

}  // namespace mcx
