// Test helper: the UBIGINT a SQL statement returns, read in the store's own snapshot.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "store/event_store.h"

namespace sluice {

// The first column of the first row of `sql` (cast it: `count(*)::UBIGINT`); 0 if none.
inline uint64_t StoreCount(EventStore& store, const std::string& sql) {
  uint64_t n = 0;
  Status s = store.WithEventsView("", [&](duck::Connection& con, const std::string&) -> Status {
    auto r = con.Query(sql);
    if (!r.ok()) return r.status();
    auto v = r->FirstUInt64();
    if (!v.ok()) return v.status();
    n = v->value_or(0);
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << sql << ": " << s.ToString();
  return n;
}

}  // namespace sluice
