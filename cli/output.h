#pragma once

// What the `vouch` command line prints: exit codes, notary-style tables, JSON documents, the
// progress of long operations, and log lines on stderr. Nothing here touches a secret.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/error.h"
#include "tuf/json.h"

namespace vouch::cli {

// ---- Exit codes (README "Exit codes"); stable, scripts rely on them --------------------------
// A refusal that retrying cannot fix is never kExitNetwork: CI retries on 3 only.

inline constexpr int kExitOk = 0;
// A usage or configuration error: an unknown flag, a missing argument, malformed input, a
// local file that cannot be read, a policy that does not load, a repository not initialized.
inline constexpr int kExitUsage = 1;
// Denied or refused by content: content does not match what is signed, a target or
// repository has no trust data, the trust data does not verify (signatures, thresholds,
// expiry, rollback, certificates, trust pinning), an image the policy denies, or a request
// the trust server refuses for what it carries (Notary's INVALID_UPDATE and other HTTP 400s,
// 413).
inline constexpr int kExitVerification = 2;
// Transient: the trust server cannot be reached (TLS included), timed out, is unavailable
// (HTTP 5xx), or other publishers kept going first. Retrying later may succeed.
inline constexpr int kExitNetwork = 3;
// Keys or credentials: no passphrase (and no terminal to ask on), a wrong passphrase, an
// unknown key, an insecure key file, not enough keys held to sign a role, credentials that
// are missing or that the trust server refuses (HTTP 401, 403).
inline constexpr int kExitKey = 4;

// The table above as `vouch --help` shows it (README "Exit codes" has the same rows).
inline constexpr const char* kExitCodesHelp =
    "Exit codes:\n"
    "  0  success (an image admitted; a sign with nothing to do)\n"
    "  1  usage or configuration error\n"
    "  2  denied or refused by content (retrying cannot help)\n"
    "  3  transient: trust server unreachable or unavailable (retry later)\n"
    "  4  keys or credentials: passphrase, missing key, refused credentials\n";

// The one mapping from an Error to an exit code. `from_server` says that the error is (or
// wraps) one the trust server answered, as opposed to a local check.
int exit_code_for(const Error& error, bool from_server);

// ---- Tables ----------------------------------------------------------------------------------

// A table as the notary CLI prints it (Go text/tabwriter, minwidth 4, padding 4, spaces): a
// header row, a row of dashes as long as each header, then the rows. Every column but the
// last is padded to its widest cell (in UTF-8 code points, as Go counts) plus 4; the last
// column is written as is. Rows must have as many cells as the header.
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void add_row(std::vector<std::string> cells);
  std::string render() const;
  // True when no row was added (rows_ always holds the header and its dashes).
  bool empty() const { return rows_.size() <= 2; }

 private:
  std::vector<std::vector<std::string>> rows_;
};

// The table output of a list command, as notary writes it: a blank line, then `empty_message`
// when `table` has no rows (else the table), then a closing newline.
void write_table_or(const Table& table, std::string_view empty_message);

// Number of UTF-8 code points in `text` (bytes that do not start a code point are not
// counted), the width Go's tabwriter uses.
std::size_t display_width(std::string_view text);

// Notary's truncateWithEllipsis: `text` if it is at most `max_width` bytes, else "..." and
// its last max_width - 3 bytes (left) or its first max_width - 3 bytes and "..." (right).
std::string truncate_with_ellipsis(std::string_view text, std::size_t max_width, bool left);

// ---- JSON output -------------------------------------------------------------------------------

// A JSON document for `--output json`. Unlike tuf::json (canonical, sorted), objects keep the
// order members were added, so documents can mirror docker's field order.
class Json {
 public:
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;

  Json() = default;  // null
  Json(std::nullptr_t) {}                   // NOLINT: implicit
  Json(bool b) : v_(b) {}                   // NOLINT: implicit
  Json(std::int64_t i) : v_(i) {}           // NOLINT: implicit
  Json(std::string s) : v_(std::move(s)) {}  // NOLINT: implicit
  Json(std::string_view s) : v_(std::string(s)) {}  // NOLINT: implicit
  Json(const char* s) : v_(std::string(s)) {}       // NOLINT: implicit
  Json(Array a) : v_(std::move(a)) {}       // NOLINT: implicit
  Json(Object o) : v_(std::move(o)) {}      // NOLINT: implicit

  static Json array() { return Json(Array{}); }
  static Json object() { return Json(Object{}); }

  // Appends a member (this must be an object) / an element (this must be an array).
  Json& set(std::string key, Json value);
  Json& push(Json value);

  // Written as Go's json.MarshalIndent(v, "", indent) lays it out ("[]" and "{}" when
  // empty), with '"', '\' and control characters escaped; other UTF-8 is written raw.
  std::string dump(std::string_view indent = "    ") const;

 private:
  void dump_to(std::string& out, std::string_view indent, std::size_t level) const;
  std::variant<std::nullptr_t, bool, std::int64_t, std::string, Array, Object> v_;
};

// A tuf::json value (e.g. a target's "custom" data) as a Json document.
Json to_output_json(const tuf::json::Value& value);

// Writes `text` to stdout as is (no newline added). Returns false if stdout failed.
bool write_stdout(std::string_view text);

// ---- Progress ----------------------------------------------------------------------------------

// Shows the progress of a long operation (publishing) on stderr: a bar redrawn in place when
// stderr is a terminal; plain lines, one per phase and one when a counted phase completes,
// when it is not and `verbose` is set; nothing otherwise.
class Progress {
 public:
  Progress(bool terminal, bool verbose) : terminal_(terminal), verbose_(verbose) {}
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress() { finish(); }

  void update(std::string_view phase, std::size_t done, std::size_t total);
  // Clears the bar (terminal) so that the next line starts clean. Idempotent.
  void finish();

 private:
  bool terminal_;
  bool verbose_;
  bool drawn_ = false;
  std::string phase_;
};

// ---- Logging -------------------------------------------------------------------------------

// Routes every vouch logger (common/log.h) to stderr as one line per message,
// "<LEVEL> [<component>] <message>" (e.g. "WARN [client] changelist: ..."), with control
// characters escaped. Level: warnings and errors by default, info with `verbose`, everything
// with `debug`.
void init_logging(bool debug, bool verbose);

}  // namespace vouch::cli
