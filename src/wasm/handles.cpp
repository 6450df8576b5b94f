#include "wasm/handles.hpp"

#include <cstdio>

namespace nebula::wasm {

std::string take_message(wasmtime_error_t* error) {
  OwnedError owned(error);
  wasm_byte_vec_t msg;
  wasmtime_error_message(owned.get(), &msg);
  std::string text(msg.data, msg.size);
  wasm_byte_vec_delete(&msg);
  return text;
}

std::string trap_message(const wasm_trap_t* trap) {
  wasm_message_t msg;
  wasm_trap_message(trap, &msg);
  std::string text(msg.data, msg.size);
  wasm_byte_vec_delete(&msg);
  // wasm_message_t is NUL-terminated; the terminator is not part of the text.
  while (!text.empty() && text.back() == '\0') text.pop_back();
  return text;
}

std::string trap_backtrace(const wasm_trap_t* trap, std::size_t max_frames) {
  wasm_frame_vec_t frames;
  wasm_trap_trace(trap, &frames);
  std::string out;
  for (std::size_t i = 0; i < frames.size && i < max_frames; ++i) {
    const wasm_frame_t* frame = frames.data[i];
    char line[96];
    std::snprintf(line, sizeof line, "#%zu func[%u]", i, wasm_frame_func_index(frame));
    out.append(line);
    if (const wasm_name_t* name = wasmtime_frame_func_name(frame); name != nullptr) {
      out.append(" (").append(name->data, name->size).append(")");
    }
    std::snprintf(line, sizeof line, " @0x%zx\n", wasm_frame_module_offset(frame));
    out.append(line);
  }
  if (frames.size > max_frames) {
    char line[64];
    std::snprintf(line, sizeof line, "... %zu more frames\n", frames.size - max_frames);
    out.append(line);
  }
  wasm_frame_vec_delete(&frames);
  return out;
}

Error to_error(ErrorKind kind, std::string_view context, wasmtime_error_t* error) {
  return make_error(kind, std::string(context) + ": " + take_message(error));
}

}  // namespace nebula::wasm
