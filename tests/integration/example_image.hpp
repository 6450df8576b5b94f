#pragma once

// Whether the machine's Docker engine can run an example image: tests that
// need one skip with the reason when it cannot.

#include <string>

#include "docker/client.hpp"

namespace nebula::testing {

// Why `image` cannot be used (no engine, or the image not built), or empty.
inline std::string example_image_problem(const std::string& image = "nebula-fn-hello:latest") {
  docker::Client client;
  if (Status ping = client.ping(); !ping) return "no Docker engine: " + ping.error().message;
  if (!client.inspect_image(image)) return image + " is not built (target example_images)";
  return {};
}

}  // namespace nebula::testing
