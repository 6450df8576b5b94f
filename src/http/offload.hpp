#pragma once

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/result.hpp"

namespace nebula::http {

namespace detail {

// The value handed over with an exception; never read (the coroutine
// rethrows instead), but the completion signature needs one.
template <class R>
R placeholder() {
  if constexpr (std::is_default_constructible_v<R>) {
    return R{};
  } else {
    return R(make_error(ErrorKind::kInternal, "the worker threw"));
  }
}

}  // namespace detail

// Runs blocking `work` on the worker pool; `co_await offload(pool, work)`
// resumes the calling coroutine on its own executor with work's result (an
// exception thrown by `work` is rethrown there). The I/O thread is free
// meanwhile. `work` is moved into the pool and must own its data.
//
// Pass `work` as a named variable (std::move(work)), never as a lambda
// written inside the co_await expression: GCC 12 destroys class-type
// temporaries of a co_await full-expression twice. For the same reason the
// work travels by reference here and is moved only inside the initiation.
template <class Work>
auto offload(boost::asio::thread_pool& pool, Work&& work) {
  using W = std::decay_t<Work>;
  using R = std::invoke_result_t<W&>;
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                     void(std::exception_ptr, R)>(
      [&pool](auto handler, W* source) {
        W work = std::move(*source);
        auto resume = boost::asio::get_associated_executor(handler);
        boost::asio::post(pool, [handler = std::move(handler), work = std::move(work),
                                 resume = std::move(resume)]() mutable {
          std::exception_ptr error;
          std::optional<R> result;
          try {
            result.emplace(work());
          } catch (...) {
            error = std::current_exception();
          }
          boost::asio::post(
              resume, [handler = std::move(handler), error, result = std::move(result)]() mutable {
                std::move(handler)(error, result ? std::move(*result) : detail::placeholder<R>());
              });
        });
      },
      boost::asio::use_awaitable, &work);
}

}  // namespace nebula::http
