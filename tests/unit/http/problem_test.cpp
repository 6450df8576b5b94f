#include "http/problem.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace nebula::http {
namespace {

namespace bhttp = beast::http;

TEST(Problem, HasTheRfc9457Members) {
  auto res = problem(bhttp::status::bad_request, "Bad request", "field x is wrong",
                     boost::json::object{{"kind", "exit"}});
  EXPECT_EQ(res.result(), bhttp::status::bad_request);
  EXPECT_EQ(res[bhttp::field::content_type], "application/problem+json");
  auto doc = boost::json::parse(res.body()).as_object();
  EXPECT_EQ(doc.at("status").as_int64(), 400);
  EXPECT_EQ(doc.at("title"), "Bad request");
  EXPECT_EQ(doc.at("detail"), "field x is wrong");
  EXPECT_EQ(doc.at("kind"), "exit");
  EXPECT_EQ(doc.at("type"), "about:blank");
  auto typed = problem(bhttp::status::bad_gateway, "Function failed", "exit 3",
                       boost::json::object{{"type", "urn:nebula:problem:function-failed"}});
  EXPECT_EQ(boost::json::parse(typed.body()).at("type"), "urn:nebula:problem:function-failed");
}

TEST(Problem, ErrorKindsMapToStatuses) {
  struct Case {
    ErrorKind kind;
    bhttp::status status;
  };
  for (auto c : {Case{ErrorKind::kInvalidArgument, bhttp::status::bad_request},
                 Case{ErrorKind::kNotFound, bhttp::status::not_found},
                 Case{ErrorKind::kUnauthorized, bhttp::status::unauthorized},
                 Case{ErrorKind::kTooLarge, bhttp::status::payload_too_large},
                 Case{ErrorKind::kOverloaded, bhttp::status::too_many_requests},
                 Case{ErrorKind::kTimeout, bhttp::status::gateway_timeout},
                 Case{ErrorKind::kUnavailable, bhttp::status::service_unavailable},
                 Case{ErrorKind::kInternal, bhttp::status::internal_server_error}}) {
    EXPECT_EQ(problem(make_error(c.kind, "x")).result(), c.status) << to_string(c.kind);
  }
}

TEST(Problem, OverloadAndUnavailableSayWhenToRetry) {
  EXPECT_EQ(problem(make_error(ErrorKind::kOverloaded, "busy"))[bhttp::field::retry_after], "1");
  EXPECT_EQ(problem(make_error(ErrorKind::kUnavailable, "down"))[bhttp::field::retry_after], "5");
  EXPECT_EQ(problem(make_error(ErrorKind::kUnauthorized, "no"))[bhttp::field::www_authenticate],
            "Bearer realm=\"nebula\"");
}

}  // namespace
}  // namespace nebula::http
