//! WebAssembly components for Nebula: WASI 0.2 command components and
//! `wasi:http/proxy` handlers, run with Nebula's limits.
//!
//! The wasmtime C API can compile a component but not run one the way
//! Nebula needs: its store data has no memory peak, no capped output pipes
//! and no hook for outbound requests, and it cannot create an incoming HTTP
//! request or a response outparam. This module is that gap and no more: it
//! links, pre-instantiates and calls; every policy (which hosts a guest may
//! reach, what the limits are, what a result means) stays in Nebula's C++.
//! The C declarations are in include/nebula_wasmtime.h.

use std::ffi::c_void;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_c_api::{wasm_engine_t, wasmtime_component_t, wasmtime_error_t};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

#[repr(C)]
pub struct nebula_bytes_t {
    data: *mut u8,
    len: usize,
}

// --- C types (mirrors of include/nebula_wasmtime.h) ------------------------

#[repr(C)]
#[derive(Clone, Copy)]
pub struct nebula_str_t {
    data: *const u8,
    len: usize,
}

impl nebula_str_t {
    /// # Safety
    /// `data` must point to `len` readable bytes for the call's duration.
    unsafe fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            &[]
        } else {
            std::slice::from_raw_parts(self.data, self.len)
        }
    }

    /// # Safety
    /// As for `bytes`.
    unsafe fn text(&self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    fn borrowed(s: &str) -> nebula_str_t {
        nebula_str_t { data: s.as_ptr(), len: s.len() }
    }
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct nebula_pair_t {
    name: nebula_str_t,
    value: nebula_str_t,
}

#[repr(C)]
pub struct nebula_preopen_t {
    host_path: nebula_str_t,
    guest_path: nebula_str_t,
    read_only: bool,
}

pub type nebula_outbound_policy_t =
    Option<unsafe extern "C" fn(*mut c_void, nebula_str_t, nebula_str_t, u16) -> bool>;

#[repr(C)]
pub struct nebula_component_spec_t {
    argv: *const nebula_str_t,
    argc: usize,
    env: *const nebula_pair_t,
    env_count: usize,
    preopens: *const nebula_preopen_t,
    preopen_count: usize,
    stdin_bytes: nebula_str_t,
    inherit_stdio: bool,
    memory_bytes: u64,
    max_output_bytes: u64,
    timeout_ms: u64,
    outbound_policy: nebula_outbound_policy_t,
    outbound_ctx: *mut c_void,
    outbound_timeout_ms: u64,
}

#[repr(C)]
pub struct nebula_component_result_t {
    outcome: i32,
    exit_code: i32,
    output_truncated: bool,
    startup_ns: u64,
    exec_ns: u64,
    teardown_ns: u64,
    cpu_ns: u64,
    max_memory_bytes: u64,
    outbound_requests: u32,
    outbound_denied: u32,
    stdout_data: nebula_bytes_t,
    stderr_data: nebula_bytes_t,
    message: nebula_bytes_t,
}

#[repr(C)]
pub struct nebula_http_request_t {
    method: nebula_str_t,
    scheme: nebula_str_t,
    authority: nebula_str_t,
    path_with_query: nebula_str_t,
    headers: *const nebula_pair_t,
    header_count: usize,
    body: nebula_str_t,
}

#[repr(C)]
pub struct nebula_http_sink_t {
    ctx: *mut c_void,
    head: Option<unsafe extern "C" fn(*mut c_void, u16, *const nebula_pair_t, usize)>,
    chunk: Option<unsafe extern "C" fn(*mut c_void, *const u8, usize) -> bool>,
}

const OUTCOME_OK: i32 = 0;
const OUTCOME_EXIT: i32 = 1;
const OUTCOME_TRAP: i32 = 2;
const OUTCOME_TIMEOUT: i32 = 3;
const OUTCOME_MEMORY: i32 = 4;

#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum nebula_component_kind_t {
    Command = 1,
    Http = 2,
}

// --- the program -------------------------------------------------------------

/// A linked, pre-instantiated component, with its export already resolved
/// for the kind it is: an invocation only creates a store and instantiates.
pub struct nebula_component_t {
    kind: nebula_component_kind_t,
    engine: Engine,
    command: Option<wasmtime_wasi::p2::bindings::sync::CommandPre<Host>>,
    proxy: Option<wasmtime_wasi_http::p2::bindings::sync::ProxyPre<Host>>,
}

/// Why an invocation was stopped by the host, checked in this order.
#[derive(Default)]
struct Stops {
    timed_out: bool,
    output: bool,
}

/// The per-invocation store data.
struct Host {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: Hooks,
    limiter: Limiter,
    stops: Stops,
    stdout: Option<CappedPipe>,
    stderr: Option<CappedPipe>,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for Host {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// Linear memory of all the component's core instances together, capped;
/// its peak is the invocation's `max_memory_bytes`. Refusing to grow traps
/// (as with modules), so that the limit is an outcome, not a NULL malloc.
struct Limiter {
    limit: usize,
    total: usize,
    peak: usize,
    hit: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let next = self.total.saturating_sub(current).saturating_add(desired);
        if next > self.limit {
            self.hit = true;
            return Err(wasmtime::format_err!(
                "memory limit: linear memory would grow to {next} bytes, over {} bytes",
                self.limit
            ));
        }
        self.total = next;
        self.peak = self.peak.max(next);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold references, a few bytes each; bound them loosely.
        Ok(desired <= 10_000_000)
    }
}

/// Outbound requests go through Nebula's policy; a refused one is the guest's
/// `HTTP-request-denied` error, never a trap.
struct Hooks {
    policy: nebula_outbound_policy_t,
    ctx: usize, // *mut c_void, stored as an address so that Hooks is Send
    timeout: Duration,
    requests: u32,
    denied: u32,
}

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<wasmtime_wasi_http::WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        drop(fut);
        self.requests += 1;
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("").to_ascii_lowercase();
        let host = uri.host().unwrap_or("").to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(if scheme == "https" { 443 } else { 80 });
        let allowed = match self.policy {
            // SAFETY: the policy and its context are valid for the whole
            // invocation (the caller's spec), and this runs on its thread.
            Some(policy) => unsafe {
                policy(
                    self.ctx as *mut c_void,
                    nebula_str_t::borrowed(&scheme),
                    nebula_str_t::borrowed(&host),
                    port,
                )
            },
            None => false,
        };
        if !allowed {
            self.denied += 1;
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        let limit = self.timeout;
        let mut options = options.unwrap_or_default();
        options.connect_timeout = Some(options.connect_timeout.map_or(limit, |t| t.min(limit)));
        options.first_byte_timeout =
            Some(options.first_byte_timeout.map_or(limit, |t| t.min(limit)));
        options.between_bytes_timeout =
            Some(options.between_bytes_timeout.map_or(limit, |t| t.min(limit)));
        Box::new(async move {
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
            ))
        })
    }
}

/// stdout or stderr, kept in memory up to a cap. A write past the cap keeps
/// what fits and traps the guest: the output limit is an outcome, as it is
/// for modules and containers.
#[derive(Clone)]
struct CappedPipe {
    inner: Arc<Mutex<Captured>>,
}

struct Captured {
    data: Vec<u8>,
    cap: usize,
    exceeded: bool,
}

impl CappedPipe {
    fn new(cap: usize) -> Self {
        CappedPipe { inner: Arc::new(Mutex::new(Captured { data: Vec::new(), cap, exceeded: false })) }
    }
    fn exceeded(&self) -> bool {
        self.inner.lock().unwrap().exceeded
    }
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.inner.lock().unwrap().data)
    }
    fn append(&self, bytes: &[u8]) -> bool {
        let mut c = self.inner.lock().unwrap();
        let room = c.cap.saturating_sub(c.data.len());
        if bytes.len() > room {
            c.data.extend_from_slice(&bytes[..room]);
            c.exceeded = true;
            return false;
        }
        c.data.extend_from_slice(bytes);
        true
    }
}

impl IsTerminal for CappedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for CappedPipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        if self.append(&bytes) {
            Ok(())
        } else {
            Err(StreamError::Trap(wasmtime::format_err!("output limit exceeded")))
        }
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        // Offer more than fits, so that a guest over the cap reaches write()
        // and is stopped there rather than waiting for room forever.
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedPipe {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CappedPipe {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        if self.append(buf) {
            Poll::Ready(Ok(buf.len()))
        } else {
            Poll::Ready(Err(std::io::Error::other("output limit exceeded")))
        }
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

// --- helpers -------------------------------------------------------------------

fn error(e: wasmtime::Error) -> Option<Box<wasmtime_error_t>> {
    Some(Box::new(wasmtime_error_t::from(e)))
}

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid timespec out-parameter.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

fn nanos(d: Duration) -> u64 {
    d.as_nanos().min(u128::from(u64::MAX)) as u64
}

fn owned_bytes(v: Vec<u8>) -> nebula_bytes_t {
    let mut boxed = v.into_boxed_slice();
    let out = nebula_bytes_t { data: boxed.as_mut_ptr(), len: boxed.len() };
    std::mem::forget(boxed);
    out
}

/// # Safety
/// `b` must come from `owned_bytes` and not have been freed.
unsafe fn free_bytes(b: &mut nebula_bytes_t) {
    if !b.data.is_null() {
        drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(b.data, b.len)));
    }
    b.data = std::ptr::null_mut();
    b.len = 0;
}

/// # Safety
/// `ptr` must point to `n` valid items (or `n` is 0).
unsafe fn slice<'a, T>(ptr: *const T, n: usize) -> &'a [T] {
    if n == 0 || ptr.is_null() {
        &[]
    } else {
        std::slice::from_raw_parts(ptr, n)
    }
}

/// The wasmtime objects behind the C API's handles. `wasm_engine_t` is
/// `#[repr(C)]` and `wasmtime_component_t` `#[repr(transparent)]`, each with
/// the wasmtime object as its only field; the crate version is pinned.
unsafe fn engine_of<'a>(engine: *const wasm_engine_t) -> &'a Engine {
    &*(engine as *const Engine)
}
unsafe fn component_of<'a>(component: *const wasmtime_component_t) -> &'a Component {
    &*(component as *const Component)
}

/// A fresh store for one invocation, with the spec's WASI context, limits
/// and deadline.
///
/// # Safety
/// Every pointer in `spec` must be valid for the call.
unsafe fn new_store(engine: &Engine, spec: &nebula_component_spec_t) -> wasmtime::Result<Store<Host>> {
    let mut builder = WasiCtxBuilder::new();
    let argv: Vec<String> = slice(spec.argv, spec.argc).iter().map(|s| s.text()).collect();
    builder.args(&argv);
    for pair in slice(spec.env, spec.env_count) {
        builder.env(pair.name.text(), pair.value.text());
    }
    for preopen in slice(spec.preopens, spec.preopen_count) {
        let perms = if preopen.read_only { FsPerms::ReadOnly } else { FsPerms::ReadWrite };
        builder.preopened_dir(preopen.host_path.text(), preopen.guest_path.text(), perms)?;
    }
    let cap = usize::try_from(spec.max_output_bytes).unwrap_or(usize::MAX);
    let (stdout, stderr) = if spec.inherit_stdio {
        builder.inherit_stdio();
        (None, None)
    } else {
        let out = CappedPipe::new(cap);
        let err = CappedPipe::new(cap);
        builder.stdin(wasmtime_wasi::p2::pipe::MemoryInputPipe::new(Bytes::copy_from_slice(
            spec.stdin_bytes.bytes(),
        )));
        builder.stdout(out.clone());
        builder.stderr(err.clone());
        (Some(out), Some(err))
    };
    let host = Host {
        wasi: builder.build(),
        http: WasiHttpCtx::new(),
        table: ResourceTable::new(),
        hooks: Hooks {
            policy: spec.outbound_policy,
            ctx: spec.outbound_ctx as usize,
            timeout: Duration::from_millis(spec.outbound_timeout_ms.max(1)),
            requests: 0,
            denied: 0,
        },
        limiter: Limiter {
            limit: usize::try_from(spec.memory_bytes).unwrap_or(usize::MAX),
            total: 0,
            peak: 0,
            hit: false,
        },
        stops: Stops::default(),
        stdout,
        stderr,
    };
    let mut store = Store::new(engine, host);
    store.limiter(|host| &mut host.limiter);
    // One epoch tick at a time: the engine's ticker advances it while
    // anything runs; each tick checks the deadline and the output caps.
    let deadline = (spec.timeout_ms > 0)
        .then(|| Instant::now() + Duration::from_millis(spec.timeout_ms));
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |mut ctx| {
        let host = ctx.data_mut();
        let over = |p: &Option<CappedPipe>| p.as_ref().is_some_and(CappedPipe::exceeded);
        if over(&host.stdout) || over(&host.stderr) {
            host.stops.output = true;
            return Err(wasmtime::format_err!("output limit exceeded"));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            host.stops.timed_out = true;
            return Err(wasmtime::format_err!("timeout"));
        }
        Ok(UpdateDeadline::Continue(1))
    });
    Ok(store)
}

/// Fills the outcome from what the export call returned.
fn classify(
    host: &mut Host,
    call: wasmtime::Result<Result<(), ()>>,
    spec: &nebula_component_spec_t,
    result: &mut nebula_component_result_t,
    message: &mut String,
) {
    let over = |p: &Option<CappedPipe>| p.as_ref().is_some_and(CappedPipe::exceeded);
    let output_over = host.stops.output || over(&host.stdout) || over(&host.stderr);
    match call {
        _ if host.stops.timed_out => {
            result.outcome = OUTCOME_TIMEOUT;
            *message = format!("timed out after {} ms", spec.timeout_ms);
        }
        _ if output_over => {
            result.outcome = OUTCOME_TRAP;
            result.output_truncated = true;
            *message = format!(
                "output limit: the function wrote more than {} bytes to stdout or stderr and was stopped",
                spec.max_output_bytes
            );
        }
        _ if host.limiter.hit => {
            result.outcome = OUTCOME_MEMORY;
            *message = format!(
                "memory limit: the function tried to grow its memory beyond {} MiB",
                spec.memory_bytes >> 20
            );
        }
        Ok(Ok(())) => result.outcome = OUTCOME_OK,
        Ok(Err(())) => {
            // wasi:cli/run returned an error: the exit code a command
            // reports for `exit(1)`-style failure.
            result.outcome = OUTCOME_EXIT;
            result.exit_code = 1;
            *message = "exited with code 1".to_string();
        }
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<I32Exit>() {
                result.exit_code = exit.0;
                if exit.0 == 0 {
                    result.outcome = OUTCOME_OK;
                } else {
                    result.outcome = OUTCOME_EXIT;
                    *message = format!("exited with code {}", exit.0);
                }
            } else {
                result.outcome = OUTCOME_TRAP;
                *message = format!("{e:?}");
            }
        }
    }
}

/// Moves the store's captured output and figures into the result.
fn finish(host: &mut Host, result: &mut nebula_component_result_t, message: String) {
    result.max_memory_bytes = host.limiter.peak as u64;
    result.outbound_requests = host.hooks.requests;
    result.outbound_denied = host.hooks.denied;
    if let Some(out) = host.stdout.as_ref() {
        result.stdout_data = owned_bytes(out.take());
    }
    if let Some(err) = host.stderr.as_ref() {
        result.stderr_data = owned_bytes(err.take());
    }
    result.message = owned_bytes(message.into_bytes());
}

fn empty_result() -> nebula_component_result_t {
    let none = || nebula_bytes_t { data: std::ptr::null_mut(), len: 0 };
    nebula_component_result_t {
        outcome: OUTCOME_OK,
        exit_code: 0,
        output_truncated: false,
        startup_ns: 0,
        exec_ns: 0,
        teardown_ns: 0,
        cpu_ns: 0,
        max_memory_bytes: 0,
        outbound_requests: 0,
        outbound_denied: 0,
        stdout_data: none(),
        stderr_data: none(),
        message: none(),
    }
}

/// A failure while instantiating: a full instance pool is the host's problem
/// (an error); anything else is the guest's (a trap, or a limit).
fn instantiation_failed(
    e: wasmtime::Error,
    store: &mut Store<Host>,
    spec: &nebula_component_spec_t,
    started: Instant,
    out: &mut nebula_component_result_t,
) -> Option<Box<wasmtime_error_t>> {
    let text = format!("{e:?}");
    if text.contains("maximum concurrent") || text.contains("pooling") {
        return error(wasmtime::format_err!("no free wasm instance slot: {text}"));
    }
    let mut message = String::new();
    classify(store.data_mut(), Err(e), spec, out, &mut message);
    out.startup_ns = nanos(started.elapsed());
    finish(store.data_mut(), out, message);
    None
}

// --- entry points --------------------------------------------------------------

const RUN_INTERFACE: &str = "wasi:cli/run";
const HANDLER_INTERFACE: &str = "wasi:http/incoming-handler";

fn exports_interface(names: &[String], interface: &str) -> bool {
    names.iter().any(|n| n == interface || n.starts_with(&format!("{interface}@")))
}

#[no_mangle]
pub unsafe extern "C" fn nebula_component_link(
    engine: *const wasm_engine_t,
    component: *const wasmtime_component_t,
    out: *mut *mut nebula_component_t,
) -> Option<Box<wasmtime_error_t>> {
    let engine = engine_of(engine).clone();
    let component = component_of(component);
    let names: Vec<String> =
        component.component_type().exports(&engine).map(|(name, _)| name.to_string()).collect();
    let kind = if exports_interface(&names, HANDLER_INTERFACE) {
        nebula_component_kind_t::Http
    } else if exports_interface(&names, RUN_INTERFACE) {
        nebula_component_kind_t::Command
    } else {
        let list = if names.is_empty() { "nothing".to_string() } else { names.join(", ") };
        return error(wasmtime::format_err!(
            "the component exports neither {RUN_INTERFACE} (a command) nor {HANDLER_INTERFACE} \
             (an HTTP handler); it exports: {list}"
        ));
    };
    let mut linker = Linker::<Host>::new(&engine);
    let linked = wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
        .and_then(|()| wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker));
    if let Err(e) = linked {
        return error(e);
    }
    let pre = match linker.instantiate_pre(component) {
        Ok(pre) => pre,
        Err(e) => {
            return error(wasmtime::format_err!(
                "the component cannot be linked (Nebula provides WASI 0.2 and wasi:http): {e:?}"
            ))
        }
    };
    // Resolve the export now, once: a mismatch is a deploy-time error, and
    // no invocation looks it up again.
    let mut linked = nebula_component_t { kind, engine, command: None, proxy: None };
    let resolved = match kind {
        nebula_component_kind_t::Command => {
            wasmtime_wasi::p2::bindings::sync::CommandPre::new(pre).map(|p| linked.command = Some(p))
        }
        nebula_component_kind_t::Http => {
            wasmtime_wasi_http::p2::bindings::sync::ProxyPre::new(pre).map(|p| linked.proxy = Some(p))
        }
    };
    if let Err(e) = resolved {
        return error(e);
    }
    *out = Box::into_raw(Box::new(linked));
    None
}

#[no_mangle]
pub unsafe extern "C" fn nebula_component_kind(component: *const nebula_component_t) -> nebula_component_kind_t {
    (*component).kind
}

#[no_mangle]
pub unsafe extern "C" fn nebula_component_delete(component: *mut nebula_component_t) {
    if !component.is_null() {
        drop(Box::from_raw(component));
    }
}

#[no_mangle]
pub unsafe extern "C" fn nebula_component_result_free(result: *mut nebula_component_result_t) {
    if result.is_null() {
        return;
    }
    let r = &mut *result;
    free_bytes(&mut r.stdout_data);
    free_bytes(&mut r.stderr_data);
    free_bytes(&mut r.message);
}

#[no_mangle]
pub unsafe extern "C" fn nebula_component_run(
    component: *const nebula_component_t,
    spec: *const nebula_component_spec_t,
    out: *mut nebula_component_result_t,
) -> Option<Box<wasmtime_error_t>> {
    let component = &*component;
    let spec = &*spec;
    let out = &mut *out;
    *out = empty_result();
    let Some(command_pre) = component.command.as_ref() else {
        return error(wasmtime::format_err!("not a command component: it is an HTTP handler"));
    };
    let started = Instant::now();
    let mut store = match new_store(&component.engine, spec) {
        Ok(store) => store,
        Err(e) => return error(e),
    };
    let command = match command_pre.instantiate(&mut store) {
        Ok(command) => command,
        Err(e) => return instantiation_failed(e, &mut store, spec, started, out),
    };
    let ready = Instant::now();
    out.startup_ns = nanos(ready - started);
    let cpu_before = thread_cpu_ns();
    let call = command.wasi_cli_run().call_run(&mut store);
    out.cpu_ns = thread_cpu_ns().saturating_sub(cpu_before);
    out.exec_ns = nanos(ready.elapsed());
    let mut message = String::new();
    classify(store.data_mut(), call, spec, out, &mut message);
    finish(store.data_mut(), out, message);
    let teardown = Instant::now();
    drop(store);
    out.teardown_ns = nanos(teardown.elapsed());
    None
}

/// The sink, handed to the task that drains the response body. The C side
/// promises the callbacks are thread-safe; `nebula_component_handle` waits
/// for the task, so the context outlives every use.
#[derive(Clone, Copy)]
struct SinkRef {
    ctx: usize, // *mut c_void
    head: Option<unsafe extern "C" fn(*mut c_void, u16, *const nebula_pair_t, usize)>,
    chunk: Option<unsafe extern "C" fn(*mut c_void, *const u8, usize) -> bool>,
}

/// How the response body ended.
enum Drained {
    Complete,
    NoResponse,              // the guest never set its response
    ErrorResponse(ErrorCode), // the guest set an error instead of a response
    Truncated,               // over max_output_bytes
    ClientGone,
    BodyFailed(String),
}

async fn drain(
    receiver: tokio::sync::oneshot::Receiver<Result<hyper::Response<HyperOutgoingBody>, ErrorCode>>,
    sink: SinkRef,
    cap: u64,
) -> Drained {
    let response = match receiver.await {
        Ok(Ok(response)) => response,
        Ok(Err(code)) => return Drained::ErrorResponse(code),
        Err(_) => return Drained::NoResponse,
    };
    let (parts, mut body) = response.into_parts();
    {
        // The pairs point into `parts`; they are gone before the next await.
        let pairs: Vec<nebula_pair_t> = parts
            .headers
            .iter()
            .map(|(name, value)| nebula_pair_t {
                name: nebula_str_t { data: name.as_str().as_ptr(), len: name.as_str().len() },
                value: nebula_str_t { data: value.as_bytes().as_ptr(), len: value.as_bytes().len() },
            })
            .collect();
        if let Some(head) = sink.head {
            // SAFETY: see SinkRef; the pairs live until the call returns.
            unsafe { head(sink.ctx as *mut c_void, parts.status.as_u16(), pairs.as_ptr(), pairs.len()) };
        }
    }
    let mut sent: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => return Drained::BodyFailed(format!("{e:?}")),
        };
        let Ok(data) = frame.into_data() else { continue };
        if data.is_empty() {
            continue;
        }
        let room = cap.saturating_sub(sent);
        let take = (data.len() as u64).min(room) as usize;
        if take > 0 {
            if let Some(chunk) = sink.chunk {
                // SAFETY: `data` lives until the call returns.
                if !unsafe { chunk(sink.ctx as *mut c_void, data.as_ptr(), take) } {
                    return Drained::ClientGone;
                }
            }
            sent += take as u64;
        }
        if take < data.len() {
            return Drained::Truncated;
        }
    }
    Drained::Complete
}

#[no_mangle]
pub unsafe extern "C" fn nebula_component_handle(
    component: *const nebula_component_t,
    spec: *const nebula_component_spec_t,
    request: *const nebula_http_request_t,
    sink: *const nebula_http_sink_t,
    out: *mut nebula_component_result_t,
) -> Option<Box<wasmtime_error_t>> {
    let component = &*component;
    let spec = &*spec;
    let request = &*request;
    let out = &mut *out;
    *out = empty_result();
    let Some(proxy_pre) = component.proxy.as_ref() else {
        return error(wasmtime::format_err!("not an HTTP handler: it is a command component"));
    };

    // The request, as hyper builds one.
    let uri = format!(
        "{}://{}{}",
        request.scheme.text(),
        request.authority.text(),
        request.path_with_query.text()
    );
    let mut builder = hyper::Request::builder().method(request.method.bytes()).uri(uri);
    for header in slice(request.headers, request.header_count) {
        builder = builder.header(header.name.bytes(), header.value.bytes());
    }
    let body = http_body_util::Full::new(Bytes::copy_from_slice(request.body.bytes()));
    let hyper_request = match builder.body(body) {
        Ok(r) => r,
        Err(e) => return error(wasmtime::format_err!("invalid request for the handler: {e}")),
    };
    let scheme = if request.scheme.bytes() == b"https" { Scheme::Https } else { Scheme::Http };

    let started = Instant::now();
    let mut store = match new_store(&component.engine, spec) {
        Ok(store) => store,
        Err(e) => return error(e),
    };
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let resources = (|| -> wasmtime::Result<_> {
        let req = store.data_mut().http().new_incoming_request(scheme, hyper_request)?;
        let outparam = store.data_mut().http().new_response_outparam(sender)?;
        Ok((req, outparam))
    })();
    let (req, outparam) = match resources {
        Ok(r) => r,
        Err(e) => return error(e),
    };
    let proxy = match proxy_pre.instantiate(&mut store) {
        Ok(proxy) => proxy,
        Err(e) => return instantiation_failed(e, &mut store, spec, started, out),
    };
    let ready = Instant::now();
    out.startup_ns = nanos(ready - started);

    // The body drains on the runtime while the guest writes it, so that a
    // guest writing more than a channel holds never waits for itself.
    let sink = SinkRef { ctx: (*sink).ctx as usize, head: (*sink).head, chunk: (*sink).chunk };
    let draining = wasmtime_wasi::runtime::spawn(drain(receiver, sink, spec.max_output_bytes));
    let cpu_before = thread_cpu_ns();
    let call = proxy.wasi_http_incoming_handler().call_handle(&mut store, req, outparam);
    out.cpu_ns = thread_cpu_ns().saturating_sub(cpu_before);
    let mut message = String::new();
    classify(store.data_mut(), call.map(Ok), spec, out, &mut message);
    finish(store.data_mut(), out, String::new());
    // Dropping the store ends a body the guest left open, so the drain ends.
    let teardown = Instant::now();
    drop(store);
    out.teardown_ns = nanos(teardown.elapsed());
    let drained = wasmtime_wasi::runtime::in_tokio(draining);
    out.exec_ns = nanos(ready.elapsed().saturating_sub(Duration::from_nanos(out.teardown_ns)));
    if out.outcome == OUTCOME_OK {
        match drained {
            Drained::Complete | Drained::ClientGone => {}
            Drained::NoResponse => {
                out.outcome = OUTCOME_TRAP;
                message = "the handler returned without setting a response".to_string();
            }
            Drained::ErrorResponse(code) => {
                out.outcome = OUTCOME_TRAP;
                message = format!("the handler answered with an error: {code:?}");
            }
            Drained::Truncated => {
                out.outcome = OUTCOME_TRAP;
                out.output_truncated = true;
                message = format!(
                    "output limit: the response body went over {} bytes and was cut",
                    spec.max_output_bytes
                );
            }
            Drained::BodyFailed(why) => {
                out.outcome = OUTCOME_TRAP;
                message = format!("the response body failed: {why}");
            }
        }
    }
    free_bytes(&mut out.message);
    out.message = owned_bytes(message.into_bytes());
    None
}
