#pragma once

// Small POSIX file helpers shared by every component that writes files it must not lose or
// half-write (key files, the client's metadata cache and changelist, the verifier's CA
// bundles): an owning file descriptor and a crash-safe "write, fsync, rename, fsync the
// directory" sequence. Errors are Reason::kIo with the path and strerror text, except where
// stated. Thread-safe in the sense of the underlying system calls: nothing is shared.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.h"

namespace vouch {

// Owns a file descriptor (-1: none) and closes it on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { (void)close(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership without closing; returns the descriptor.
  int release();
  // Closes now and returns ::close's result (0 if nothing was open), so that a delayed write
  // error is seen; the descriptor is gone either way.
  int close();

 private:
  int fd_ = -1;
};

// Writes all of `data` to `fd`, retrying short writes and EINTR. `path` only names the file
// in the error.
Status write_all(int fd, std::string_view data, const std::filesystem::path& path);

// Reads `fd` to its end, retrying short reads and EINTR. More than `max_bytes` is kTooLarge
// (reading stops one chunk past the limit); a read error is kIo whose message is the strerror
// text alone (no path: `fd` may be stdin), for the caller to wrap.
Result<std::string> read_all(int fd, std::size_t max_bytes);

// fsyncs the directory `dir`, so that a rename or unlink in it survives a crash.
Status sync_dir(const std::filesystem::path& dir);

// Creates a new file "<dir>/<prefix>XXXXXX" (random suffix, O_EXCL, mode 0600), writes `data`,
// fsyncs and closes it, and returns its path. On any error the file is removed.
Result<std::filesystem::path> write_temp_file(const std::filesystem::path& dir,
                                              std::string_view prefix, std::string_view data);

// Reads the whole regular file `path` if it holds at most `max` bytes. Errors: kNotFound
// (missing, or a path component is not a directory), kIo (other open/read failures, not a
// regular file), kTooLarge (more than `max` bytes; reads at most max + 1).
Result<std::string> read_file_bounded(const std::filesystem::path& path, std::size_t max);

enum class Replace { kYes, kNo };

// Renames `from` to `to` (same filesystem). Replace::kNo never replaces an existing `to`
// (renameat2 RENAME_NOREPLACE, or link + unlink on filesystems without it) and answers
// Reason::kConflict if `to` exists. Does not sync the directory; `from` is left in place on
// failure.
Status rename_file(const std::filesystem::path& from, const std::filesystem::path& to,
                   Replace replace);

// Atomically makes `path` hold `data` (mode 0600): a temporary file beside it (hidden name
// ".<name>.tmp<random>") is written and fsynced, renamed over `path` (or, with Replace::kNo,
// only if `path` does not exist: Reason::kConflict otherwise), and the directory is fsynced.
// A reader sees the old or the new contents, never a mix; a crash leaves at most a stray
// temporary file. The directory must exist.
Status write_file_atomic(const std::filesystem::path& path, std::string_view data,
                         Replace replace = Replace::kYes);

}  // namespace vouch
