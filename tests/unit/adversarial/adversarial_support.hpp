// Shared plumbing of the adversarial suite: a hostile probe run beside a well-behaved one on
// the same io_context, bounds on what a result may cost, report-output UTF-8 checks, and the
// table row each case appends to $MXTLS_ADVERSARIAL_TABLE (case, status, time, bytes/memory).
#pragma once

#include "core/result.hpp"
#include "fakes/scripted_smtp.hpp"
#include "scan/probe.hpp"
#include "tls/pki.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace mxtls::adversarial {

// One CA for every certificate in the suite; the probes trust it.
struct AdversarialPki {
  tls::CertificateAuthority ca = tls::CertificateAuthority::create("mxtls adversarial test CA");
  tls::Credentials good = ca.issue(spec_for("mx.fake.test"));
  static tls::CertSpec spec_for(const std::string& name) {
    tls::CertSpec spec;
    spec.common_name = name;
    spec.dns_names = {name};
    return spec;
  }
};
const AdversarialPki& pki();

// Short phase deadlines so every hostile case ends quickly; the overall deadline is 2 s.
scan::ProbeSettings hostile_settings();
inline constexpr std::chrono::milliseconds phase_limit{250};
inline constexpr std::chrono::milliseconds probe_limit{2000};
// Generous slack for assertions on elapsed time (never a tight wall-clock bound).
inline constexpr std::chrono::milliseconds slack{1000};

struct PairOutcome {
  ProbeResult hostile;
  std::chrono::milliseconds hostile_took{};
  ProbeResult good;  // the well-behaved neighbour, probed at the same time
  std::chrono::milliseconds good_took{};
  std::vector<fakes::FakeSession> hostile_sessions;  // when the hostile peer is a ScriptedSmtp
};

// Probes `hostile` (as MX "mx.fake.test") and a well-behaved STARTTLS fake concurrently on `io`,
// with `settings` for the hostile probe; calls `stop_hostile` once both probes are done.
PairOutcome probe_beside_good(asio::io_context& io, const asio::ip::tcp::endpoint& hostile,
                              const scan::ProbeSettings& settings, const std::function<void()>& stop_hostile);
// The same with a ScriptedSmtp running `script` as the hostile peer.
PairOutcome probe_script_beside_good(fakes::Script script, const scan::ProbeSettings& settings = hostile_settings(),
                                     fakes::ScriptedSmtpOptions options = {});

// The neighbour's result must be complete and correct: ok, TLS, Verified, EHLO after TLS.
void check_good_neighbour(const PairOutcome& outcome);

// Bytes of text a result holds (every string and list): what a hostile peer made us keep.
std::size_t result_footprint(const ProbeResult& r);
inline constexpr std::size_t max_result_footprint = 64 * 1024;

// Writes the result as JSON Lines, CSV and the text report and checks that each is valid
// UTF-8 (the JSON also parses, the text report has no raw ESC/NUL); returns the JSON record.
std::string check_outputs_valid(const ProbeResult& r);

bool valid_utf8(std::string_view text);
long peak_rss_kib();  // process-wide (getrusage): a sanity note only

// Appends one row to $MXTLS_ADVERSARIAL_TABLE when it is set (a Markdown table; the header
// is written when the file is new).
void table_row(const std::string& case_name, const std::string& status, std::chrono::milliseconds took,
               std::chrono::milliseconds deadline, const std::string& memory_note);
// Status text of a probe result: "timeout @ greeting".
std::string status_text(const ProbeResult& r);

}  // namespace mxtls::adversarial
