#include "server/ldap/ldap_directory.h"

#include <ldap.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "common/log.h"

namespace vouch::server::ldap {

namespace {

// Most bytes of a password handed to the directory; longer ones are refused unsent.
constexpr std::size_t kMaxPasswordBytes = 1024;
constexpr std::size_t kMaxNameBytes = 256;

struct LdapCloser {
  void operator()(LDAP* ld) const { ::ldap_unbind_ext_s(ld, nullptr, nullptr); }
};
using Connection = std::unique_ptr<LDAP, LdapCloser>;
struct MessageFree {
  void operator()(LDAPMessage* m) const { ::ldap_msgfree(m); }
};
using Message = std::unique_ptr<LDAPMessage, MessageFree>;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A DN compared loosely: lower case, no blanks around ',' '=' '+'. Enough to tell whether one
// DN lies under another as written by the same directory.
std::string dn_key(std::string_view dn) {
  std::string out;
  for (std::size_t i = 0; i < dn.size(); ++i) {
    const char c = dn[i];
    if (c == ' ') {
      const char prev = out.empty() ? ',' : out.back();
      std::size_t j = i;
      while (j < dn.size() && dn[j] == ' ') ++j;
      const char next = j < dn.size() ? dn[j] : ',';
      if (prev == ',' || prev == '=' || prev == '+' || next == ',' || next == '=' || next == '+') {
        i = j - 1;
        continue;
      }
    }
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

bool dn_under(std::string_view dn, std::string_view base) {
  const std::string d = dn_key(dn), b = dn_key(base);
  if (b.empty()) return true;
  if (d == b) return true;
  return d.size() > b.size() && d.ends_with(b) && d[d.size() - b.size() - 1] == ',';
}

// The directory could not be asked (as opposed to: it said no).
bool transport_failure(int rc) {
  return rc < 0 || rc == LDAP_BUSY || rc == LDAP_UNAVAILABLE || rc == LDAP_TIMELIMIT_EXCEEDED ||
         rc == LDAP_OTHER || rc == LDAP_ADMINLIMIT_EXCEEDED;
}

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// libldap bounds connecting (LDAP_OPT_NETWORK_TIMEOUT) and waiting for results (LDAP_OPT_TIMEOUT),
// but an ldaps:// TLS handshake reads from a blocking socket: a peer that accepts and stays
// silent would hold the thread forever. A watchdog shuts the connection's socket down when its
// deadline passes, so that a blocked read returns and libldap fails the operation. libldap
// tells it the socket through a connect callback, and that the socket is closing through the
// matching delete callback (so a number reused by another socket is never shut down).
class Watchdog {
 public:
  explicit Watchdog(std::chrono::milliseconds limit)
      : thread_([this, limit] {
          std::unique_lock lock(mu_);
          if (!cv_.wait_for(lock, limit, [this] { return done_; }) && fd_ >= 0) {
            ::shutdown(fd_, SHUT_RDWR);
          }
        }) {}
  ~Watchdog() { cancel(); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void set_fd(int fd) {
    std::lock_guard lock(mu_);
    fd_ = fd;
  }
  // No shutdown after this returns. Idempotent.
  void cancel() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  static int on_connect(LDAP*, Sockbuf* sb, LDAPURLDesc*, sockaddr*, ldap_conncb* ctx) {
    ber_socket_t fd = -1;
    if (::ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &fd) == 1) {
      static_cast<Watchdog*>(ctx->lc_arg)->set_fd(fd);
    }
    return 0;
  }
  static void on_close(LDAP*, Sockbuf*, ldap_conncb* ctx) {
    static_cast<Watchdog*>(ctx->lc_arg)->set_fd(-1);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  int fd_ = -1;
  std::thread thread_;  // last: starts once the rest is ready
};

// A connection and its watchdog; the watchdog stops before the socket closes.
struct Conn {
  explicit Conn(std::chrono::milliseconds limit)
      : watchdog(limit), callbacks{&Watchdog::on_connect, &Watchdog::on_close, &watchdog} {}
  ~Conn() {
    watchdog.cancel();
    ld.reset();
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  LDAP* get() const { return ld.get(); }

  Watchdog watchdog;
  ldap_conncb callbacks;  // libldap keeps a pointer to it while `ld` lives
  Connection ld;
};

Error unavailable(std::string what) {
  return make_error(Code::kUnavailable, Reason::kUnavailable, "directory: " + std::move(what));
}

}  // namespace

std::string escape_filter_value(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '*' || c == '(' || c == ')' || c == '\\' || c == '\0') {
      const auto b = static_cast<unsigned char>(c);
      out.push_back('\\');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

struct LdapDirectory::Impl {
  LdapOptions options;
  keys::SecretString bind_password;
  std::shared_ptr<prometheus::Registry> metrics;
  std::array<prometheus::Counter*, 3> logins{};  // ok, rejected, unavailable
  std::shared_ptr<spdlog::logger> logger = log::get("auth");

  void count(std::size_t i) const {
    if (logins[i] != nullptr) logins[i]->Increment();
  }

  // A new connection, TLS up, bound as the service account. Its socket is shut down after
  // `steps` timeouts (connect, TLS, bind, ... each count one) unless the caller cancels the
  // watchdog first.
  Result<std::unique_ptr<Conn>> connect(int steps) const {
    auto conn = std::make_unique<Conn>(options.timeout * steps);
    LDAP* raw = nullptr;
    int rc = ::ldap_initialize(&raw, options.url.c_str());
    if (rc != LDAP_SUCCESS || raw == nullptr) {
      return unavailable(std::string("initialize: ") + ::ldap_err2string(rc));
    }
    conn->ld.reset(raw);
    LDAP* ld = raw;
    const int version = LDAP_VERSION3;
    ::ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    ::ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    const timeval tv = to_timeval(options.timeout);
    ::ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    ::ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
    ::ldap_set_option(ld, LDAP_OPT_CONNECT_CB, &conn->callbacks);
    if (!options.insecure_no_tls) {
      const int demand = LDAP_OPT_X_TLS_DEMAND;
      ::ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
      if (!options.ca_file.empty()) {
        ::ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, options.ca_file.c_str());
      }
      const int is_server = 0;
      rc = ::ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &is_server);
      if (rc != LDAP_OPT_SUCCESS) {
        return unavailable("TLS setup (ca_file " + options.ca_file +
                           "): " + ::ldap_err2string(rc));
      }
      if (options.start_tls) {
        rc = ::ldap_start_tls_s(ld, nullptr, nullptr);
        if (rc != LDAP_SUCCESS) {
          return unavailable(std::string("StartTLS with ") + options.url + ": " +
                             ::ldap_err2string(rc));
        }
      }
    }
    berval cred{};
    cred.bv_val = const_cast<char*>(bind_password.view().data());
    cred.bv_len = static_cast<ber_len_t>(bind_password.size());
    rc = ::ldap_sasl_bind_s(ld, options.bind_dn.empty() ? nullptr : options.bind_dn.c_str(),
                            LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
    if (rc != LDAP_SUCCESS) {
      // The service account refused is our configuration, not the caller's password.
      return unavailable("bind as " + (options.bind_dn.empty() ? "anonymous" : options.bind_dn) +
                         " at " + options.url + ": " + ::ldap_err2string(rc));
    }
    return conn;
  }

  // One search; `limit` entries at most (0: none). rc LDAP_SIZELIMIT_EXCEEDED passes through
  // as `*truncated`.
  Result<Message> search(LDAP* ld, const std::string& base, int scope, const std::string& filter,
                         const std::vector<std::string>& attrs, int limit,
                         bool* truncated = nullptr) const {
    std::vector<char*> attr_ptrs;
    for (const std::string& a : attrs) attr_ptrs.push_back(const_cast<char*>(a.c_str()));
    attr_ptrs.push_back(nullptr);
    timeval tv = to_timeval(options.timeout);
    LDAPMessage* raw = nullptr;
    const int rc = ::ldap_search_ext_s(ld, base.c_str(), scope, filter.c_str(), attr_ptrs.data(),
                                       0, nullptr, nullptr, &tv, limit, &raw);
    Message result(raw);
    if (truncated != nullptr) *truncated = rc == LDAP_SIZELIMIT_EXCEEDED;
    if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED) return result;
    if (rc == LDAP_NO_SUCH_OBJECT) {
      return make_error(Code::kNotFound, Reason::kNotFound, "directory: no entry " + base);
    }
    if (transport_failure(rc)) {
      return unavailable("search under " + base + ": " + ::ldap_err2string(rc));
    }
    return make_error(Code::kFailedPrecondition, Reason::kUnavailable,
                      "directory: search under " + base + " with " + filter + ": " +
                          ::ldap_err2string(rc));
  }

  // The one user entry for `name` (user_filter under user_base): its DN; nullopt when there is
  // none or more than one.
  Result<std::optional<std::string>> find_user(LDAP* ld, std::string_view name) const {
    std::string filter = options.user_filter;
    const std::string escaped = escape_filter_value(name);
    for (std::size_t at = filter.find("{username}"); at != std::string::npos;
         at = filter.find("{username}", at + escaped.size())) {
      filter.replace(at, std::string_view("{username}").size(), escaped);
    }
    bool truncated = false;
    VOUCH_ASSIGN_OR_RETURN(Message m, search(ld, options.user_base, LDAP_SCOPE_SUBTREE, filter,
                                             {"1.1"}, 2, &truncated));
    if (truncated || ::ldap_count_entries(ld, m.get()) != 1) return std::optional<std::string>();
    LDAPMessage* entry = ::ldap_first_entry(ld, m.get());
    char* dn = entry != nullptr ? ::ldap_get_dn(ld, entry) : nullptr;
    if (dn == nullptr) return std::optional<std::string>();
    std::string out(dn);
    ::ldap_memfree(dn);
    return std::optional<std::string>(std::move(out));
  }

  // The values of `attr` of `entry`, as text.
  static std::vector<std::string> values(LDAP* ld, LDAPMessage* entry, const std::string& attr) {
    std::vector<std::string> out;
    berval** vals = ::ldap_get_values_len(ld, entry, attr.c_str());
    if (vals == nullptr) return out;
    for (berval** v = vals; *v != nullptr; ++v) out.emplace_back((*v)->bv_val, (*v)->bv_len);
    ::ldap_value_free_len(vals);
    return out;
  }
};

LdapDirectory::LdapDirectory(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LdapDirectory::~LdapDirectory() = default;

const LdapOptions& LdapDirectory::options() const { return impl_->options; }

Result<std::unique_ptr<LdapDirectory>> LdapDirectory::create(
    LdapOptions options, keys::SecretString bind_password,
    std::shared_ptr<prometheus::Registry> metrics) {
  const auto bad = [](std::string what) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed, "auth.ldap: " + what);
  };
  const bool ldaps = options.url.starts_with("ldaps://");
  if (!ldaps && !options.url.starts_with("ldap://")) {
    return bad("url must start with ldaps:// or ldap:// (got \"" + options.url + "\")");
  }
  if (ldaps && options.start_tls) return bad("start_tls is for ldap:// urls (ldaps:// is TLS)");
  if (!ldaps && !options.start_tls && !options.insecure_no_tls) {
    return bad("ldap:// without TLS would send passwords in clear: set start_tls true, use "
               "ldaps://, or (tests only) insecure_no_tls true");
  }
  if (options.insecure_no_tls && (ldaps || options.start_tls)) {
    return bad("insecure_no_tls contradicts ldaps:// / start_tls");
  }
  if (options.user_base.empty()) return bad("user_base is required");
  if (options.user_filter.find("{username}") == std::string::npos) {
    return bad("user_filter must contain {username}");
  }
  if (options.name_attribute.empty()) return bad("name_attribute is required");
  if (options.member_attribute.empty()) return bad("member_attribute is required");
  if (options.timeout.count() <= 0) return bad("timeout_ms must be positive");
  if (!options.bind_dn.empty() && bind_password.empty()) {
    return bad("bind_dn " + options.bind_dn + " needs bind_password_file");
  }
  for (const TeamMapping& m : options.team_map) {
    if (m.group.empty() || m.team.find('/') == std::string::npos) {
      return bad("team_map entries need a group DN and a team \"<org>/<team>\"");
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->bind_password = std::move(bind_password);
  impl->metrics = std::move(metrics);
  if (impl->metrics) {
    auto& family = prometheus::BuildCounter()
                       .Name("vouch_server_ldap_logins_total")
                       .Help("Password checks against the LDAP directory, by outcome")
                       .Register(*impl->metrics);
    impl->logins = {&family.Add({{"outcome", "ok"}}), &family.Add({{"outcome", "rejected"}}),
                    &family.Add({{"outcome", "unavailable"}})};
  }
  return std::unique_ptr<LdapDirectory>(new LdapDirectory(std::move(impl)));
}

Status LdapDirectory::check_password(std::string_view name, const keys::SecretString& password) {
  const auto rejected = [this] {
    impl_->count(1);
    return make_error(Code::kUnauthenticated, Reason::kBadCredentials, "bad credentials");
  };
  // An empty password would be an unauthenticated bind ("success" on many servers): refused
  // before anything is sent.
  if (password.empty() || password.size() > kMaxPasswordBytes || name.empty() ||
      name.size() > kMaxNameBytes) {
    return rejected();
  }
  // The whole check (connect, TLS, service bind, search, user bind) within 5 timeouts.
  auto conn = impl_->connect(5);
  if (!conn) {
    impl_->count(2);
    impl_->logger->error("{}", conn.error().message);
    return std::move(conn).error();
  }
  LDAP* const ld = (*conn)->get();
  auto dn = impl_->find_user(ld, name);
  if (!dn) {
    impl_->count(2);
    impl_->logger->error("{}", dn.error().message);
    if (dn.error().code == Code::kNotFound) {
      return unavailable("user_base " + impl_->options.user_base + " does not exist");
    }
    return std::move(dn).error();
  }
  if (!*dn) return rejected();
  berval cred{};
  cred.bv_val = const_cast<char*>(password.view().data());
  cred.bv_len = static_cast<ber_len_t>(password.size());
  const int rc = ::ldap_sasl_bind_s(ld, (*dn)->c_str(), LDAP_SASL_SIMPLE, &cred, nullptr,
                                    nullptr, nullptr);
  if (rc == LDAP_SUCCESS) {
    impl_->count(0);
    return ok_status();
  }
  if (transport_failure(rc)) {
    impl_->count(2);
    impl_->logger->error("directory: bind as {}: {}", **dn, ::ldap_err2string(rc));
    return unavailable(std::string("bind: ") + ::ldap_err2string(rc));
  }
  // Invalid credentials, and what directories answer for locked, expired or disabled
  // accounts (unwilling to perform, inappropriate authentication): all the caller's.
  return rejected();
}

Result<std::vector<std::string>> LdapDirectory::group_members(std::string_view group_dn) {
  const LdapOptions& o = impl_->options;
  const std::string group(group_dn);
  if (!o.group_base.empty() && !dn_under(group, o.group_base)) {
    return make_error(Code::kNotFound, Reason::kNotFound,
                      "directory: group " + group + " is not under group_base " + o.group_base);
  }
  // Connect, TLS and bind within 3 timeouts; each search after that has its own.
  VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<Conn> conn, impl_->connect(3));
  conn->watchdog.cancel();
  LDAP* const ld = conn->get();
  VOUCH_ASSIGN_OR_RETURN(Message m, impl_->search(ld, group, LDAP_SCOPE_BASE,
                                                  o.group_filter, {o.member_attribute}, 1));
  LDAPMessage* entry = ::ldap_first_entry(ld, m.get());
  if (entry == nullptr) {
    return make_error(Code::kNotFound, Reason::kNotFound,
                      "directory: group " + group + " not found (or not matching group_filter)");
  }
  const std::vector<std::string> vals = Impl::values(ld, entry, o.member_attribute);
  if (vals.size() > o.max_group_members) {
    return make_error(Code::kResourceExhausted, Reason::kTooLarge,
                      "directory: group " + group + " has " + std::to_string(vals.size()) +
                          " members, more than " + std::to_string(o.max_group_members));
  }
  std::vector<std::string> names;
  for (const std::string& v : vals) {
    if (v.find('=') != std::string::npos) {  // a DN (member, uniqueMember)
      // uniqueMember may end in "#'<bitstring>'B" (RFC 4519); the DN is before it.
      std::string dn = v.substr(0, v.rfind("#'") == std::string::npos ? v.size() : v.rfind("#'"));
      if (!dn_under(dn, o.user_base)) continue;
      auto user = impl_->search(ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)",
                                {o.name_attribute}, 1);
      if (!user) {
        if (user.error().code == Code::kNotFound) continue;  // a dangling member
        return std::move(user).error();
      }
      LDAPMessage* e = ::ldap_first_entry(ld, user->get());
      if (e == nullptr) continue;
      const auto name = Impl::values(ld, e, o.name_attribute);
      if (name.size() == 1) names.push_back(lower(name.front()));
    } else {  // a name (memberUid)
      VOUCH_ASSIGN_OR_RETURN(auto found, impl_->find_user(ld, v));
      if (found) names.push_back(lower(v));
    }
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

}  // namespace vouch::server::ldap
