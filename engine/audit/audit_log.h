// AuditLog: appends a node's audit records, many callers at once, through one writer thread.
//
// Record() returns OK only once the event's record is committed (durable as the store makes it:
// SqliteAuditStore fsyncs each commit by default), so a fail-closed caller may hand out key
// material after an OK and must refuse on an error. Begin() hands an event in and returns at once
// with a Receipt whose Wait() is that same answer: a caller overlaps the commit with its own work
// (the server derives the key set while its issuance is recorded) and waits before it hands the
// result out. RecordAsync() is for events nobody waits on (refused requests): it returns at once
// and its failure shows only in Health().
//
// Group commit: the writer thread takes every event pending (whole Record calls, never split, up
// to max_records_per_commit) and appends them in ONE store transaction: it reads the node's tip,
// numbers and chains the records, has each record's hash MAC'd (one HMAC per record), inserts and
// commits, then wakes every waiter with the one result. Before a commit it gathers: it waits until
// the oldest pending event has waited gather_window, but never while a caller is blocked on a
// pending event (Record, Receipt::Wait): events handed in with Begin() or RecordAsync() a moment
// apart then share one commit, and nobody who waits is held back. A failure goes to every waiter
// of that transaction, and Health() reports it until a later append succeeds. Events are
// timestamped when handed in (the Env's clock), chained in the order the writer takes them.
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
#include <memory>
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
  // How long the writer may hold a commit back for more events, from the oldest pending one, while
  // nobody is blocked waiting for it (see Group commit above). Zero: commit at once.
  std::chrono::microseconds gather_window{500};
};

// The fail-closed rule for an act that needed a record, given how recording it went: OK when it
// was recorded; otherwise Unavailable, saying that `act` is refused (audit.on_failure = "refuse",
// the default), or, when the operator chose to go on (`fail_open`), OK after a warning on stderr.
// `act` completes "the audit log cannot be written, so ... is refused", e.g. "handing out key material".
Status RefuseUnlessRecorded(const Status& recorded, bool fail_open, const std::string& act);

// The host name, the default node.
std::string LocalAuditNode();
// The operating-system user running this process ("alice", or "uid 1001"), plus "via sudo" and
// the invoking user when run under sudo: the actor of an administrative command.
std::string LocalOperator();

class AuditLog {
  struct Waiter;

 public:
  AuditLog(AuditStore& store, RecordAuthenticator& authenticator, AuditLogOptions options = {},
           Env& env = Env::Default());
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // The answer to one Begin(): Wait() blocks until the record is committed or has failed, and
  // may be called again (same answer). Dropping a Receipt unwaited is allowed; the record is
  // still committed.
  class Receipt {
   public:
    Receipt() = default;  // waits for nothing: Wait() is OK (no audit log)
    Status Wait();

   private:
    friend class AuditLog;
    AuditLog* log_ = nullptr;
    std::shared_ptr<Waiter> waiter_;
  };

  // Blocks until the record is committed or has failed.
  Status Record(const AuditEvent& event);
  // Hands the event in and returns at once; the receipt tells when it is committed.
  Receipt Begin(const AuditEvent& event);
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
  // One synchronous group's answer, shared by its caller's Receipt and the writer.
  struct Waiter {
    Status status;
    bool done = false;
    bool queued = true;    // its group is still in queue_ (not taken by the writer)
    bool blocked = false;  // its caller waits for it (counted in blocked_in_queue_ while queued)
  };
  struct Group {
    std::vector<AuditEvent> events;
    std::vector<int64_t> times;
    std::shared_ptr<Waiter> waiter;  // null: asynchronous
    std::chrono::steady_clock::time_point handed_in;
  };

  std::shared_ptr<Waiter> Submit(Group group);
  Status Await(Waiter& waiter);
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
  size_t blocked_in_queue_ = 0;  // queued groups whose caller is blocked on them: commit now
  uint64_t submitted_ = 0, finished_ = 0;  // groups, for Flush()
  bool stopping_ = false;
  Status health_;
  Counters counters_;
  std::thread writer_;
};

}  // namespace mcx
