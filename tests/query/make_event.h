// The event the search tests store and look for: one builder for event_search_test and
// log_tail_search_test, so both search the same shape of event.
#pragma once

#include <cstdint>
#include <string>

#include "ingest/event.h"

namespace sluice {

inline Event MakeEvent(const std::string& tenant, const std::string& id, int64_t ts_us,
                       const std::string& type = "page_view", const std::string& user = "",
                       const std::string& properties = "{}") {
  Event e;
  e.tenant = tenant;
  e.event_id = id;
  e.type = type;
  e.ts_us = ts_us;
  e.received_at_us = ts_us + 5000;
  e.user_id = user;
  e.properties = properties;
  e.source = "http";
  return e;
}

}  // namespace sluice
