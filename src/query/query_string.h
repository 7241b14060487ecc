// ParseQueryString: the `?a=1&b=x+y` part of a request target as (name, value) pairs
// (application/x-www-form-urlencoded rules, as browsers and curl --data-urlencode write it).
//
// '+' is a space and %XX a byte, in names and values alike. A malformed escape ("%4",
// "%zz") is an InvalidArgument rather than passed through, so a client learns that its
// encoding is wrong instead of getting results for a different filter. Empty pieces
// ("a=1&&b=2") are skipped; a name without '=' has an empty value. Pairs keep their order
// and repeats, so the caller decides what a repeated name means. Decoded bytes are not
// checked for UTF-8: values are only ever compared or bound as SQL parameters.
// Pure and allocation-bounded by the input (fuzz/query_string_fuzz.cc). It lives in the
// query module, not server, so the fuzz targets (which link sluice_query) can reach it.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// `target` may be a whole request target ("/v1/events?type=a", "/v1/events") or just the
// query part ("type=a", "?type=a"): everything up to and including the first '?' is
// ignored, a target starting with '/' and holding no '?' has no parameters, and a '#'
// fragment is dropped.
Result<QueryParams> ParseQueryString(std::string_view target);

// Decodes one component: '+' -> ' ', %XX -> byte.
Result<std::string> PercentDecode(std::string_view s);

}  // namespace sluice
