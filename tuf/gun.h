#pragma once

// The one GUN (globally unique name) rule, applied by the server's routes, the client's
// trust directory and every other place that takes a GUN from a user or a peer.

#include <cstddef>
#include <string_view>

#include "common/result.h"

namespace vouch::tuf {

// Longest GUN by default (Notary's SQL schema: varchar(255)).
inline constexpr std::size_t kMaxGunBytes = 255;

// Checks a GUN (Reason::kBadGun). Allowed: what Notary's server route accepts ({gun:[^*]+}:
// anything but '*'), restricted to what is safe as a relative path and in a URL: 1..max_bytes
// bytes of valid UTF-8 (common/utf8.h) without control characters (C0, DEL) or '*';
// '/'-separated segments that are neither empty (no leading or trailing '/', no "//") nor "."
// or "..". Examples: "docker.io/library/alpine", "localhost:5000/team/app". Thread-safe.
Status validate_gun(std::string_view gun, std::size_t max_bytes = kMaxGunBytes);

}  // namespace vouch::tuf
