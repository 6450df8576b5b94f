#pragma once

#include <string>
#include <string_view>

#include "core/function.hpp"
#include "core/invocation.hpp"
#include "core/result.hpp"

namespace nebula {

// What both backends implement. All methods are thread-safe: the invoker
// calls them from its worker pool.
class Runtime {
 public:
  virtual ~Runtime() = default;

  [[nodiscard]] virtual RuntimeKind kind() const noexcept = 0;

  // Makes `function` ready to run (compile or load a module, inspect an
  // image, start warm containers). Called at deploy and at start-up; a
  // failure means the variant cannot be deployed.
  [[nodiscard]] virtual Status prepare(const Function& function) = 0;

  // Forgets a function (drops its module, stops its warm containers).
  virtual void remove(std::string_view name) = 0;

  // Runs one invocation to completion. Blocks; never call on an I/O thread.
  [[nodiscard]] virtual Result<InvocationResult> invoke(const InvocationRequest& request) = 0;
};

}  // namespace nebula
