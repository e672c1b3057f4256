// CapacityReport: what one `mcx-kms bench` run measured, and what it means for an operator.
//
// The figures (machine, local rates, serving runs) and the projections they answer:
//   - how long provisioning N users for P key periods takes on this machine (local figures);
//   - how many devices reconnecting within T seconds the KMS can serve, from the measured keyprov
//     rate, separately for pre-provisioned key sets (read from the store) and on-demand ones.
// Three renderings of the same data: RenderText() for the terminal, ToJson() for machines, and
// RenderHtml() — one self-contained page (inline CSS and SVG charts drawn here; no scripts, no
// external files): throughput against threads, latency by percentile, and a timeline of each run.
// Reports hold rates, counts and latencies only: never key material or tokens.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/capacity/key_material_check.h"
#include "bench/capacity/load_generator.h"
#include "bench/capacity/token_verify_ceiling.h"

namespace mcx::capacity {

struct MachineInfo {
  std::string hostname;
  std::string cpu_model;
  int cores = 0;
  std::string kernel;
  std::string when_utc;  // when the run started
};
MachineInfo DescribeThisMachine();

struct ThreadRate {
  int threads = 0;
  double per_second = 0;
};

struct OperationRate {
  std::string operation;  // e.g. "HSM random, 32 octets"
  double per_second = 0;
};

// `bench local`: the KMS in the data directory, measured in this process.
struct LocalFigures {
  std::string kms_uri;
  std::string arithmetic;
  std::string store;
  std::vector<ThreadRate> derivation;  // key sets/s with 1..N threads
  std::vector<OperationRate> hsm;
  uint64_t provisioned = 0;            // key sets committed to the scratch store
  double provision_seconds = 0;
  int provision_threads = 0;
  double provision_rate() const { return provision_seconds > 0 ? static_cast<double>(provisioned) / provision_seconds : 0; }
};

enum class KeySetOrigin { kMixed, kPreProvisioned, kOnDemand };
const char* KeySetOriginName(KeySetOrigin origin);

// One load run against a KMS interface.
struct ServingRun {
  std::string label;
  std::string target;  // the URL (never tokens)
  KeySetOrigin origin = KeySetOrigin::kMixed;
  LoadOptions options;
  size_t users = 0;
  LoadResult result;
  bool validated = false;         // a certificate was available and samples were checked
  std::string validation_note;    // why not, when not
  KeyMaterialVerdict verdict;
  // The CPU time the server process spent in the window, when the run sampled it (bench http
  // --server-pid: a KMS on this machine); 0 when not.
  int server_pid = 0;
  double server_cpu_seconds = 0;
  double server_cores() const { return result.measured_seconds > 0 ? server_cpu_seconds / result.measured_seconds : 0; }
  // Keyprov answers per second of the server's CPU time: what one core of its own would answer.
  double keyprov_per_server_core() const {
    return server_cpu_seconds > 0 ? static_cast<double>(result.ok_by_kind[1]) / server_cpu_seconds : 0;
  }
  // The keyprov answers per second in the window.
  double keyprov_per_second() const {
    return result.measured_seconds > 0 ? static_cast<double>(result.ok_by_kind[1]) / result.measured_seconds : 0;
  }
  uint64_t errors_total() const { return result.errors() + verdict.invalid; }
};

struct ProjectionInputs {
  uint64_t users = 100000;
  int periods = 3;
  int reconnect_seconds = 60;
};

struct CapacityReport {
  MachineInfo machine;
  std::optional<TokenVerifyCeiling> token_ceiling;  // of the machine running the bench
  std::optional<LocalFigures> local;
  std::vector<ServingRun> serving;
  ProjectionInputs projection;
};

std::string RenderText(const CapacityReport& report);
nlohmann::json ToJson(const CapacityReport& report);
std::string RenderHtml(const CapacityReport& report);

// "1,234,567"
std::string WithThousands(uint64_t n);
// "850 us", "12.3 ms", "1.20 s"
std::string FormatMicros(uint64_t micros);

}  // namespace mcx::capacity
