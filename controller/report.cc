#include "controller/report.h"

#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <sstream>

namespace migrate::controller {
namespace {

std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }

}  // namespace

int ExitCodeForReport(const proto::Report& report) {
  if (report.status() == "migrated" || report.status() == "preflight_ok") return kExitMigrated;
  if (report.status() == "rolled_back") return kExitRolledBack;
  return report.frozen() ? kExitNeedsOperator : kExitFailed;
}

std::string MessageToJsonLine(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = false;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    // Cannot happen for a well-formed message; still print one JSON object.
    return "{\"status\":\"failed\",\"error\":\"cannot print the report\"}\n";
  }
  json += '\n';
  return json;
}

std::string ReportToJson(const proto::Report& report) { return MessageToJsonLine(report); }

std::string HumanBytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024.0 && unit < 4) {
    bytes /= 1024.0;
    ++unit;
  }
  char buffer[32];
  if (unit == 0) {
    std::snprintf(buffer, sizeof(buffer), "%.0f %s", bytes, kUnits[unit]);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.*f %s", bytes < 10 ? 2 : 1, bytes, kUnits[unit]);
  }
  return buffer;
}

std::string ReportToText(const proto::Report& r) {
  std::ostringstream out;
  const std::string route = r.container() + " " + r.source() + " -> " + r.destination();
  if (r.status() == "migrated") {
    out << "migrated " << route << " (migration " << r.migration_id() << ")\n";
  } else if (r.status() == "preflight_ok") {
    out << "preflight passed for " << route << " (dry run: nothing was changed)\n";
  } else if (r.status() == "rolled_back") {
    out << "ROLLED BACK " << route << ": the container runs again on " << r.source()
        << " (migration " << r.migration_id() << ")\n";
  } else if (r.frozen()) {
    out << "FAILED " << route << " and the rollback failed: the container may run nowhere"
        << " (migration " << r.migration_id() << ")\n";
  } else {
    out << "FAILED " << route << ": nothing was frozen, nothing was changed (migration "
        << r.migration_id() << ")\n";
  }
  int failed_checks = 0;
  for (const proto::ReportCheck& c : r.checks()) failed_checks += c.ok() ? 0 : 1;
  // A preflight refusal is fully told by its failed checks, below.
  if (!r.error().empty() && !(r.failed_phase() == "preflight" && failed_checks > 0)) {
    out << "  error (" << r.failed_phase() << "): " << r.error() << "\n";
  }
  bool any_failed_check = false;
  for (const proto::ReportCheck& c : r.checks()) {
    if (c.ok()) continue;
    if (!any_failed_check) out << "  refused by preflight (" << failed_checks << " failed):\n";
    any_failed_check = true;
    out << "    " << c.host() << ": " << c.name() << ": " << c.detail() << "\n";
    if (!c.remedy().empty()) out << "      what to do: " << c.remedy() << "\n";
  }
  const proto::ReportTimings& t = r.timings_ms();
  out << "  timings (ms): preflight " << t.preflight() << ", prepare " << t.prepare()
      << ", checkpoint+transfer " << t.checkpoint_transfer() << ", restore " << t.restore()
      << ", verify " << t.verify() << ", commit " << t.commit();
  if (r.rollback().attempted()) out << ", rollback " << t.rollback();
  out << "; total " << t.total() << "\n";
  if (r.status() == "migrated" || t.downtime() != 0) {
    out << "  downtime: " << t.downtime() << " ms (frozen on " << r.source() << " -> running on "
        << r.destination() << "; CRIU dump " << t.checkpoint() << " ms, transfer tail "
        << t.transfer_tail() << " ms)\n";
  }
  if (t.criu_frozen() != 0 || t.criu_restore() != 0) {
    out << "  CRIU's account (ms): freezing " << t.criu_freezing() << ", frozen " << t.criu_frozen()
        << " (memory dump " << t.criu_memdump() << ", write " << t.criu_memwrite()
        << "); restore " << t.criu_restore() << " (forking " << t.criu_forking() << ")\n";
  }
  const proto::ReportBytes& b = r.bytes();
  if (b.raw() > 0 || b.wire() > 0) {
    out << "  bytes: raw " << HumanBytes(b.raw()) << ", wire " << HumanBytes(b.wire());
    if (b.wire() > 0) {
      char ratio[32];
      std::snprintf(ratio, sizeof(ratio), "%.2f", b.raw() / b.wire());
      out << " (ratio " << ratio << ")";
    }
    out << "; images " << HumanBytes(b.images_raw()) << " -> " << HumanBytes(b.images_wire())
        << ", bundle " << HumanBytes(b.bundle_raw()) << " -> " << HumanBytes(b.bundle_wire())
        << "\n";
  }
  const proto::ReportCgroupsMode& m = r.cgroups_mode();
  out << "  cgroups mode: requested " << OrDash(m.requested()) << ", dump ran "
      << OrDash(m.dump_effective()) << ", restore ran " << OrDash(m.restore_effective()) << "\n";
  if (!m.dump_effective().empty()) {
    out << "    dump evidence: " << OrDash(m.dump_evidence());
    if (!m.dump_mechanism().empty()) out << " [" << m.dump_mechanism() << "]";
    out << "\n";
    if (!m.dump_note().empty()) out << "    dump note: " << m.dump_note() << "\n";
  }
  if (!m.restore_effective().empty()) {
    out << "    restore evidence: " << OrDash(m.restore_evidence());
    if (!m.restore_mechanism().empty()) out << " [" << m.restore_mechanism() << "]";
    out << "\n";
  }
  for (const std::string& option : r.criu_options()) out << "  CRIU option " << option << "\n";
  if (r.destination_pid() != 0) {
    out << "  on " << r.destination() << ": pid " << r.destination_pid() << ", loopback "
        << (r.loopback_up() ? "up" : "DOWN");
    if (!r.cgroup_path().empty()) out << ", cgroup path " << r.cgroup_path();
    out << "\n";
    for (const std::string& line : r.destination_cgroups()) out << "    cgroup " << line << "\n";
  }
  if (r.rollback().attempted()) {
    out << "  rollback: destination " << OrDash(r.rollback().destination()) << ", source "
        << OrDash(r.rollback().source()) << "\n";
  }
  for (const std::string& warning : r.warnings()) out << "  warning: " << warning << "\n";
  return out.str();
}

}  // namespace migrate::controller
