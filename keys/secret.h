#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include <botan/secmem.h>

namespace vouch::keys {

// Bytes that must not outlive their use: private key material, passphrases, derived keys.
// Backed by Botan's secure_vector (locked pages where the OS allows; zeroed on free).
// Move-only, no stream or format operators, so a secret cannot be logged or copied by
// accident; copy() makes an explicit copy where one is truly needed.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size) : data_(size) {}
  explicit SecretBytes(std::span<const std::uint8_t> bytes) : data_(bytes.begin(), bytes.end()) {}
  explicit SecretBytes(Botan::secure_vector<std::uint8_t> v) : data_(std::move(v)) {}
  SecretBytes(SecretBytes&&) noexcept = default;
  SecretBytes& operator=(SecretBytes&&) noexcept = default;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  SecretBytes copy() const { return SecretBytes(std::span<const std::uint8_t>(data_)); }

  std::uint8_t* data() { return data_.data(); }
  const std::uint8_t* data() const { return data_.data(); }
  std::size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  std::span<const std::uint8_t> span() const { return data_; }
  void resize(std::size_t n) { data_.resize(n); }
  void append(std::span<const std::uint8_t> b) { data_.insert(data_.end(), b.begin(), b.end()); }

  Botan::secure_vector<std::uint8_t>& vector() { return data_; }

 private:
  Botan::secure_vector<std::uint8_t> data_;
};

// A passphrase or other secret text. Same guarantees as SecretBytes.
class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string_view s) : data_(s.begin(), s.end()) {}
  SecretString(SecretString&&) noexcept = default;
  SecretString& operator=(SecretString&&) noexcept = default;
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;

  SecretString copy() const { return SecretString(view()); }

  // The text, valid while this object lives and is not modified.
  std::string_view view() const { return {data_.data(), data_.size()}; }
  std::span<const std::uint8_t> bytes() const {
    return {reinterpret_cast<const std::uint8_t*>(data_.data()), data_.size()};
  }
  std::size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  void push_back(char c) { data_.push_back(c); }
  void pop_back() { data_.pop_back(); }
  void clear() { data_.clear(); }

 private:
  Botan::secure_vector<char> data_;
};

}  // namespace vouch::keys
