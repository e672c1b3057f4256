// Test helper: a separate process that appends audit records to a KMS's audit log, as a CLI
// command beside a running server would. Usage: audit_writer DATA_DIR NODE COUNT TAG
// Records COUNT admin-command events for users sip:TAG-<i>@example.org; exit status 0 when all
// were committed.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/custody/audit_custody.h"
#include "engine/custody/kms_config.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: audit_writer DATA_DIR NODE COUNT TAG\n");
    return 2;
  }
  mcx::Result<mcx::KmsConfig> config = mcx::LoadKmsConfig(argv[1]);
  if (!config.ok()) {
    std::fprintf(stderr, "audit_writer: %s\n", config.status().ToString().c_str());
    return 1;
  }
  mcx::AuditLogOptions options;
  options.node = argv[2];
  mcx::Result<mcx::KmsAudit> audit = mcx::OpenKmsAudit(*config, nullptr, options);
  if (!audit.ok()) {
    std::fprintf(stderr, "audit_writer: %s\n", audit.status().ToString().c_str());
    return 1;
  }
  const int count = std::atoi(argv[3]);
  for (int i = 0; i < count; ++i) {
    mcx::AuditEvent e;
    e.kind = mcx::AuditEventKind::kAdminCommand;
    e.actor = mcx::LocalOperator();
    e.user_uri = "sip:" + std::string(argv[4]) + "-" + std::to_string(i) + "@example.org";
    e.detail = "audit_writer test record";
    mcx::Status s = audit->log->Record(e);
    if (!s.ok()) {
      std::fprintf(stderr, "audit_writer: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  return 0;
}
