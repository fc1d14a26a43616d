#pragma once

// Helpers for the client library's tests: a temporary directory removed on destruction, and
// small file utilities. Header-only.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace vouch::client::testing {

// tests/support/temp_dir.h, plus the path of a file in it as a string.
class TempDir : public vouch::test::TempDir {
 public:
  TempDir() : vouch::test::TempDir("vouch-client") {}
  std::string file(const std::string& name) const { return (path() / name).string(); }
};

inline void write_file(const std::filesystem::path& path, const std::string& data) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every entry under `dir` (files and directories), as sorted paths relative to `dir`.
inline std::vector<std::string> list_tree(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    std::string rel = std::filesystem::relative(e.path(), dir).string();
    if (e.is_directory()) rel += "/";
    out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Permission bits of a path (no symlink following).
inline unsigned mode_of(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) throw std::runtime_error("lstat " + path.string());
  return static_cast<unsigned>(st.st_mode & 07777);
}

}  // namespace vouch::client::testing
