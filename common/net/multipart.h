#pragma once

// A bounded, strict parser for multipart/form-data bodies (RFC 7578 over RFC 2046) as Notary's
// client sends them on publish (REFERENCE §1.2): Go's mime/multipart writer, CRLF line ends,
// one part per role:
//
//   --<boundary>\r\n
//   Content-Disposition: form-data; name="files"; filename="targets/releases"\r\n
//   Content-Type: application/octet-stream\r\n
//   \r\n
//   <bytes>\r\n
//   --<boundary>--\r\n
//
// The parser never copies part bodies: each part's body is a view into the input, which must
// outlive the parts. Duplicate names or filenames are returned as they are (the caller
// decides what a duplicate means). Pure functions, no I/O, thread-safe, never throw.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/net/headers.h"
#include "common/result.h"

namespace vouch::net {

struct MultipartLimits {
  // Parts in one body. Notary publishes one part per changed role (root, targets, snapshot
  // and delegations); 1,000 leaves room for large delegation trees. More -> kTooLarge.
  std::size_t max_parts = 1000;
  // Bytes of one part's header block (all its header lines). More -> kTooLarge.
  std::size_t max_part_header_bytes = 8 * 1024;
  // Header lines of one part. More -> kTooLarge.
  std::size_t max_part_headers = 16;
  // Bytes of the whole body. The HTTP layer's body limit is the first guard; this one makes
  // the parser safe on its own. More -> kTooLarge.
  std::size_t max_total_bytes = 100 * 1024 * 1024;
};

struct MultipartPart {
  Headers headers;           // every header line of the part, in order
  std::string name;          // Content-Disposition "name" parameter (required, may be "")
  std::string filename;      // Content-Disposition "filename" parameter, unescaped, raw:
                             // "targets/releases" stays as it is (no base-name stripping)
  bool has_filename = false; // whether a filename parameter was present (even if empty)
  std::string_view body;     // view into the input; the bytes between the header block and
                             // the CRLF that precedes the next delimiter
};

// Extracts the boundary from a Content-Type value such as
// `multipart/form-data; boundary=abc` or `multipart/form-data; boundary="a b:c"`.
// The media type must be multipart/form-data (case-insensitive); parameters are tokens or
// quoted strings (backslash escapes allowed), names case-insensitive, a repeated parameter is
// an error. The boundary must be 1..70 characters from RFC 2046's bchars and must not end in a
// space. Anything else -> Reason::kMalformed.
Result<std::string> multipart_boundary(std::string_view content_type);

// Parses a whole body with a known boundary. Strictness (all Reason::kMalformed):
//  - the body must begin with "--<boundary>" (no preamble) and contain at least one part;
//  - each delimiter line may carry only spaces/tabs after the boundary, then CRLF;
//  - header lines end in CRLF, have a non-empty token name and a ':'; no folded (obs-fold)
//    lines; the header block ends with an empty line;
//  - every part has exactly one Content-Disposition, of type form-data, with a "name"
//    parameter (RFC 7578 §4.2); parameters are parsed as in multipart_boundary and a repeated
//    one is an error; RFC 2231 "filename*" is rejected rather than half-understood;
//  - a Content-Transfer-Encoding other than 7bit, 8bit or binary is rejected (RFC 7578 §4.7
//    deprecates it; Go's reader would silently decode quoted-printable);
//  - "\r\n--<boundary>" inside a body ends the part only if "--" or spaces/tabs + CRLF follow;
//    followed by any other character it is body data (a longer boundary-like string), as in
//    RFC 2046; spaces/tabs followed by anything but CRLF are an error;
//  - the close delimiter "--<boundary>--" must be present; after it only optional spaces/tabs
//    and an optional CRLF may follow (no epilogue).
// Limits -> Reason::kTooLarge.
Result<std::vector<MultipartPart>> parse_multipart(std::string_view body,
                                                   std::string_view boundary,
                                                   const MultipartLimits& limits = {});

// multipart_boundary(content_type) then parse_multipart(body, boundary, limits).
Result<std::vector<MultipartPart>> parse_multipart_form(std::string_view content_type,
                                                        std::string_view body,
                                                        const MultipartLimits& limits = {});

}  // namespace vouch::net
