// Test helper: checks the user_key invariant of user_key.h over every hot row.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>

#include "store/event_store.h"
#include "store/user_key.h"

namespace sluice {

// {hot rows whose user_key is not UserKey(user_id) (NULL exactly when user_id is),
//  rows that have a key}.
inline std::pair<uint64_t, uint64_t> CheckUserKeys(EventStore& store) {
  uint64_t wrong = 0, keyed = 0;
  Status s = store.WithEventsView("", [&](duck::Connection& con, const std::string&) -> Status {
    auto r = con.Query("SELECT user_id, user_key FROM events_hot");
    if (!r.ok()) return r.status();
    Status st;
    while (auto chunk = r->FetchChunk(&st)) {
      for (idx_t i = 0; i < chunk.size(); ++i) {
        const bool has_user = duck::IsValid(chunk.column(0), i);
        const bool has_key = duck::IsValid(chunk.column(1), i);
        keyed += has_key;
        if (has_user != has_key ||
            (has_user && static_cast<const uint32_t*>(duckdb_vector_get_data(chunk.column(1)))[i] !=
                             UserKey(duck::GetString(chunk.column(0), i)))) {
          ++wrong;
        }
      }
    }
    return st;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return {wrong, keyed};
}

}  // namespace sluice
