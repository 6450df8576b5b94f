/* Nebula's own entry points into wasmtime, for what the wasmtime C API does
 * not offer: a store memory limit that traps, and WebAssembly components
 * (WASI 0.2 commands and wasi:http/proxy handlers) run with Nebula's limits,
 * captured output and outbound-request policy.
 *
 * Defined in wasmtime-capi/src/lib.rs and src/component.rs. Every string
 * Nebula passes in is borrowed for the duration of the call only; every
 * buffer handed back belongs to the caller until it calls the matching
 * _free/_delete function. */
#ifndef NEBULA_WASMTIME_H
#define NEBULA_WASMTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wasmtime.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Caps a core-module store's linear memory at `memory_bytes` (and its
 * instances at `instances`) so that a refused memory.grow traps instead of
 * returning -1. `store` must be live and not in use by another thread. */
void nebula_store_limit_memory(wasmtime_store_t* store, size_t memory_bytes, size_t instances);

/* A borrowed byte string (not NUL-terminated). */
typedef struct nebula_str {
  const char* data;
  size_t len;
} nebula_str_t;

typedef struct nebula_pair {
  nebula_str_t name;
  nebula_str_t value;
} nebula_pair_t;

/* Bytes owned by the result they come in; freed with it. */
typedef struct nebula_bytes {
  uint8_t* data;
  size_t len;
} nebula_bytes_t;

typedef enum nebula_component_kind {
  NEBULA_COMPONENT_COMMAND = 1, /* exports wasi:cli/run */
  NEBULA_COMPONENT_HTTP = 2,    /* exports wasi:http/incoming-handler */
} nebula_component_kind_t;

/* A component linked against WASI 0.2 and wasi:http and pre-instantiated:
 * what every invocation instantiates from. Immutable; any number of threads
 * may run it at once. */
typedef struct nebula_component nebula_component_t;

/* Links `component` (compiled for `engine`, which must outlive the result)
 * and decides its kind from its exports. An error names what the component
 * exports when it is neither a command nor an HTTP handler, or the import
 * Nebula cannot satisfy. On success `*out` is the caller's, freed with
 * nebula_component_delete. */
wasmtime_error_t* nebula_component_link(const wasm_engine_t* engine,
                                        const wasmtime_component_t* component,
                                        nebula_component_t** out);
nebula_component_kind_t nebula_component_kind(const nebula_component_t* component);
void nebula_component_delete(nebula_component_t* component);

/* Decides whether a guest's outbound HTTP request may leave: called on the
 * invoking thread, once per request, with the request's scheme, host
 * (lower case) and port (explicit or the scheme's default). */
typedef bool (*nebula_outbound_policy_t)(void* ctx, nebula_str_t scheme, nebula_str_t host,
                                         uint16_t port);

typedef struct nebula_preopen {
  nebula_str_t host_path;
  nebula_str_t guest_path;
  bool read_only;
} nebula_preopen_t;

/* How one invocation runs. */
typedef struct nebula_component_spec {
  const nebula_str_t* argv; /* argv[0] is the program name */
  size_t argc;
  const nebula_pair_t* env;
  size_t env_count;
  const nebula_preopen_t* preopens; /* the server never grants any */
  size_t preopen_count;
  nebula_str_t stdin_bytes;         /* commands: the request body */
  bool inherit_stdio;               /* `nebula run`: this process's stdio */
  uint64_t memory_bytes;            /* all linear memories together */
  uint64_t max_output_bytes;        /* per stdout and stderr, and an HTTP body */
  uint64_t timeout_ms;              /* 0: none */
  /* Outbound HTTP: refused unless the policy says yes (no policy: all
   * refused); each request is bounded by outbound_timeout_ms. */
  nebula_outbound_policy_t outbound_policy;
  void* outbound_ctx;
  uint64_t outbound_timeout_ms;
} nebula_component_spec_t;

typedef enum nebula_outcome {
  NEBULA_OUTCOME_OK = 0,
  NEBULA_OUTCOME_EXIT = 1,    /* a command exited non-zero */
  NEBULA_OUTCOME_TRAP = 2,    /* a trap, an output overflow, or no response */
  NEBULA_OUTCOME_TIMEOUT = 3,
  NEBULA_OUTCOME_MEMORY = 4,
} nebula_outcome_t;

/* What an invocation did. Free with nebula_component_result_free. */
typedef struct nebula_component_result {
  int32_t outcome; /* nebula_outcome_t */
  int32_t exit_code;
  bool output_truncated;
  uint64_t startup_ns; /* store + WASI/HTTP context + instantiate */
  uint64_t exec_ns;    /* the export call (HTTP: until the body is complete) */
  uint64_t teardown_ns;
  uint64_t cpu_ns;     /* the invoking thread's CPU time in the call */
  uint64_t max_memory_bytes;
  uint32_t outbound_requests;
  uint32_t outbound_denied;
  nebula_bytes_t stdout_data;
  nebula_bytes_t stderr_data;
  nebula_bytes_t message; /* why, for anything but ok */
} nebula_component_result_t;

void nebula_component_result_free(nebula_component_result_t* result);

/* Runs a command component's wasi:cli/run once in a fresh store. A failing
 * guest is an outcome; an error is the host's (e.g. no free instance slot). */
wasmtime_error_t* nebula_component_run(const nebula_component_t* component,
                                       const nebula_component_spec_t* spec,
                                       nebula_component_result_t* out);

typedef struct nebula_http_request {
  nebula_str_t method;
  nebula_str_t scheme; /* "http" or "https" */
  nebula_str_t authority;
  nebula_str_t path_with_query;
  const nebula_pair_t* headers;
  size_t header_count;
  nebula_str_t body;
} nebula_http_request_t;

/* Where an HTTP handler's response goes, as the guest produces it. Both
 * callbacks run on a thread of the runtime's, never the invoking one, and
 * never after nebula_component_handle returned. */
typedef struct nebula_http_sink {
  void* ctx;
  /* The guest set its response. Called at most once, before any chunk. */
  void (*head)(void* ctx, uint16_t status, const nebula_pair_t* headers, size_t count);
  /* A piece of the body; false stops the response (the client is gone). */
  bool (*chunk)(void* ctx, const uint8_t* data, size_t len);
} nebula_http_sink_t;

/* Calls an HTTP component's wasi:http/incoming-handler.handle with the
 * request, in a fresh store, and returns once the guest has returned and its
 * response body is complete (or has failed, or went over
 * max_output_bytes). A guest that fails before setting its response never
 * calls `head`. */
wasmtime_error_t* nebula_component_handle(const nebula_component_t* component,
                                          const nebula_component_spec_t* spec,
                                          const nebula_http_request_t* request,
                                          const nebula_http_sink_t* sink,
                                          nebula_component_result_t* out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* NEBULA_WASMTIME_H */
