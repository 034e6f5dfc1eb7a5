//go:build cudaemu && !cuda

// emulate.cc: the CPU emulator's scheduler, kernel registry, memory and cuBLAS stand-in.
// See emulate.h for the model.
#include "emulate.h"
#include "emulate_api.h"

#include <ucontext.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

ar_dim3 ar_emu_thread_idx, ar_emu_block_idx, ar_emu_block_dim, ar_emu_grid_dim;

namespace {

struct Kernel {
    std::string name;
    void* fn;
    ar_emu_invoker invoke;
};

std::vector<Kernel>& registry() {
    static std::vector<Kernel> r;
    return r;
}

enum State { RUNNING, AT_BLOCK_BARRIER, AT_WARP_BARRIER, DONE, FAILED };

struct Fiber {
    ucontext_t ctx;
    State state;
};

const size_t kStack = 256 * 1024;
const int kMaxThreads = 1024;

std::vector<Fiber> fibers(kMaxThreads);
std::vector<char*> stacks(kMaxThreads, nullptr);
ucontext_t scheduler;
int current = 0;
uint64_t warp_slots[kMaxThreads / 32][32];
unsigned char gather_slots[kMaxThreads / 32][32][64];
// Dynamic shared memory, aligned as the GPU's (a kernel's 16-byte accesses rely on it).
unsigned char* dynamic_smem = nullptr;
size_t dynamic_smem_size = 0;
std::string fail_message;  // what ar_emu_fail wrote, for run_block

// A cp.async not yet landed: group is the issuing thread's group count when it was queued.
struct AsyncCopy {
    void* dst;
    const void* src;
    bool valid;
    long group;
};
std::vector<AsyncCopy> async_copies[kMaxThreads];
long async_groups[kMaxThreads];  // groups committed so far by each thread

// The running launch.
const Kernel* launch_kernel = nullptr;
void** launch_params = nullptr;

void yield_as(State s) {
    fibers[current].state = s;
    swapcontext(&fibers[current].ctx, &scheduler);
}

void fiber_main() {
    launch_kernel->invoke(launch_kernel->fn, launch_params);
    fibers[current].state = DONE;
    // uc_link returns to the scheduler
}

void set_thread(int t) {
    current = t;
    ar_emu_thread_idx.x = (unsigned)t;
    ar_emu_thread_idx.y = ar_emu_thread_idx.z = 0;
}

// run_block runs one block of n fibers to completion; on a barrier misuse it writes err and
// returns false (the abandoned fibers are simply restarted by the next block).
bool run_block(int n, char* err, int errlen) {
    for (int t = 0; t < n; t++) {
        if (!stacks[t]) stacks[t] = static_cast<char*>(std::malloc(kStack));
        Fiber& f = fibers[t];
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = stacks[t];
        f.ctx.uc_stack.ss_size = kStack;
        f.ctx.uc_link = &scheduler;
        makecontext(&f.ctx, fiber_main, 0);
        f.state = RUNNING;
        async_copies[t].clear();  // copies of an earlier block that never waited land nowhere
        async_groups[t] = 0;
    }
    int warps = (n + 31) / 32;
    for (;;) {
        bool ran = false;
        for (int t = 0; t < n; t++) {
            if (fibers[t].state != RUNNING) continue;
            set_thread(t);
            swapcontext(&scheduler, &fibers[t].ctx);
            if (fibers[t].state == FAILED) {
                std::snprintf(err, errlen, "%s", fail_message.c_str());
                return false;
            }
            ran = true;
        }
        if (ran) continue;
        // Every fiber is at a barrier or done: release the complete barriers.
        bool released = false, alive = false;
        for (int w = 0; w < warps; w++) {
            int lo = w * 32, hi = lo + 32 < n ? lo + 32 : n;
            int at_warp = 0, done = 0, live = 0;
            for (int t = lo; t < hi; t++) {
                if (fibers[t].state == AT_WARP_BARRIER) at_warp++;
                if (fibers[t].state == DONE) done++; else live++;
            }
            if (at_warp == 0) continue;
            if (done > 0) {
                std::snprintf(err, errlen, "%s: a warp shuffle in warp %d while %d of its lanes have exited",
                              launch_kernel->name.c_str(), w, done);
                return false;
            }
            if (at_warp == live) {
                for (int t = lo; t < hi; t++) fibers[t].state = RUNNING;
                released = true;
            }
        }
        if (released) continue;
        int at_block = 0, live = 0;
        for (int t = 0; t < n; t++) {
            if (fibers[t].state != DONE) live++;
            if (fibers[t].state == AT_BLOCK_BARRIER) at_block++;
        }
        alive = live > 0;
        if (!alive) return true;
        if (at_block == live) {
            for (int t = 0; t < n; t++)
                if (fibers[t].state == AT_BLOCK_BARRIER) fibers[t].state = RUNNING;
            continue;
        }
        std::snprintf(err, errlen, "%s: deadlock: %d threads at __syncthreads, %d at a warp shuffle of a warp "
                      "whose other lanes wait at __syncthreads",
                      launch_kernel->name.c_str(), at_block, live - at_block);
        return false;
    }
}

}  // namespace

void ar_emu_register(const char* name, void* fn, ar_emu_invoker invoke) {
    registry().push_back(Kernel{name, fn, invoke});
}

void ar_emu_syncthreads() { yield_as(AT_BLOCK_BARRIER); }

int ar_emu_lane() { return current % 32; }

uint64_t ar_emu_exchange(uint64_t v, int src_lane) {
    int warp = current / 32, lane = current % 32;
    warp_slots[warp][lane] = v;
    yield_as(AT_WARP_BARRIER);  // every lane has written
    uint64_t r = warp_slots[warp][src_lane];
    yield_as(AT_WARP_BARRIER);  // every lane has read before any writes again
    return r;
}

void* ar_emu_dynamic_smem() { return dynamic_smem; }

void ar_emu_fail(const char* format, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, format);
    std::vsnprintf(msg, sizeof msg, format, ap);
    va_end(ap);
    char where[256];
    std::snprintf(where, sizeof where, "%s: thread %d of block (%u,%u,%u): ", launch_kernel->name.c_str(), current,
                  ar_emu_block_idx.x, ar_emu_block_idx.y, ar_emu_block_idx.z);
    fail_message = std::string(where) + msg;
    fibers[current].state = FAILED;
    swapcontext(&fibers[current].ctx, &scheduler);
    std::abort();  // the scheduler never resumes a failed fiber
}

void ar_emu_cp_async16(void* dst, const void* src, bool valid) {
    if (reinterpret_cast<uintptr_t>(dst) % 16 != 0 || reinterpret_cast<uintptr_t>(src) % 16 != 0)
        ar_emu_fail("cp.async: destination %p or source %p is not 16-byte aligned", dst, src);
    async_copies[current].push_back(AsyncCopy{dst, src, valid, async_groups[current]});
}

void ar_emu_cp_async_commit() { async_groups[current]++; }

void ar_emu_cp_async_wait(int n) {
    // Groups below done are complete; uncommitted copies (group == async_groups) never are.
    long done = async_groups[current] - n;
    std::vector<AsyncCopy>& q = async_copies[current];
    size_t kept = 0;
    for (size_t i = 0; i < q.size(); i++) {
        if (q[i].group < done) {
            if (q[i].valid) {
                std::memcpy(q[i].dst, q[i].src, 16);
            } else {
                std::memset(q[i].dst, 0, 16);
            }
        } else {
            q[kept++] = q[i];
        }
    }
    q.resize(kept);
}

void ar_emu_warp_gather(const void* mine, int bytes, void* all) {
    int warp = current / 32, lane = current % 32;
    if (bytes > 64) std::abort();  // a caller in emulate.h asked for more than a slot holds
    std::memcpy(gather_slots[warp][lane], mine, bytes);
    yield_as(AT_WARP_BARRIER);  // every lane has written
    for (int l = 0; l < 32; l++) std::memcpy(static_cast<unsigned char*>(all) + l * bytes, gather_slots[warp][l], bytes);
    yield_as(AT_WARP_BARRIER);  // every lane has read before any writes again
}

// ---- the C API the Go driver calls ----

int ar_emu_kernel_count() { return (int)registry().size(); }
const char* ar_emu_kernel_name(int i) { return registry()[i].name.c_str(); }

int ar_emu_launch(int kernel, unsigned gx, unsigned gy, unsigned gz, unsigned block, unsigned smem,
                  uint64_t* words, int32_t* offs, int nargs, char* err, int errlen) {
    if (kernel < 0 || kernel >= (int)registry().size()) {
        std::snprintf(err, errlen, "no kernel %d", kernel);
        return 1;
    }
    if (block == 0 || block > (unsigned)kMaxThreads || block % 32 != 0) {
        std::snprintf(err, errlen, "%s: block of %u threads (a multiple of 32 up to %d)",
                      registry()[kernel].name.c_str(), block, kMaxThreads);
        return 1;
    }
    std::vector<void*> params(nargs);
    for (int i = 0; i < nargs; i++) params[i] = &words[offs[i]];
    launch_kernel = &registry()[kernel];
    launch_params = params.data();
    // Fill dynamic shared memory with a NaN pattern: a kernel that reads what it never wrote
    // shows it.
    if (dynamic_smem_size < (size_t)smem + 16) {
        std::free(dynamic_smem);
        dynamic_smem_size = ((size_t)smem + 16 + 127) / 128 * 128;
        dynamic_smem = static_cast<unsigned char*>(std::aligned_alloc(128, dynamic_smem_size));
    }
    std::memset(dynamic_smem, 0xff, smem + 16);
    ar_emu_block_dim = ar_dim3{block, 1, 1};
    ar_emu_grid_dim = ar_dim3{gx, gy, gz};
    for (unsigned z = 0; z < gz; z++)
        for (unsigned y = 0; y < gy; y++)
            for (unsigned x = 0; x < gx; x++) {
                ar_emu_block_idx = ar_dim3{x, y, z};
                if (!run_block((int)block, err, errlen)) return 1;
            }
    return 0;
}

// ar_emu_gemm is cuBLAS's strided-batched GEMM with fp32 accumulation, column-major:
// C_i = alpha * op(A_i) op(B_i) + beta * C_i. With tf32, f32 inputs are rounded to TF32 (10
// mantissa bits, to nearest with ties away from zero, as cvt.rna.tf32.f32) first, as the
// tensor cores of CUBLAS_COMPUTE_32F_FAST_TF32 see them.
static float tf32(float v) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) {  // Inf and NaN stay as they are
        u = (u + 0x1000u) & 0xffffe000u;
    }
    std::memcpy(&v, &u, 4);
    return v;
}
static float load(const void* p, int type, long long i) {
    if (type == 1) return __bfloat162float(static_cast<const bf16*>(p)[i]);
    return static_cast<const float*>(p)[i];
}
static void store(void* p, int type, long long i, float v) {
    if (type == 1) static_cast<bf16*>(p)[i] = __float2bfloat16(v);
    else static_cast<float*>(p)[i] = v;
}

void ar_emu_gemm(int transa, int transb, int m, int n, int k, float alpha, uintptr_t pa, int ta, int lda,
                 long long sa, uintptr_t pb, int tb, int ldb, long long sb, float beta, uintptr_t pc, int tc,
                 int ldc, long long sc, int batch, int round_tf32) {
    const void* a = reinterpret_cast<const void*>(pa);
    const void* b = reinterpret_cast<const void*>(pb);
    void* c = reinterpret_cast<void*>(pc);
    for (int bi = 0; bi < batch; bi++) {
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < m; i++) {
                float acc = 0.0f;
                for (int l = 0; l < k; l++) {
                    long long ia = transa ? (long long)l + (long long)i * lda : (long long)i + (long long)l * lda;
                    long long ib = transb ? (long long)j + (long long)l * ldb : (long long)l + (long long)j * ldb;
                    float x = load(a, ta, bi * sa + ia), y = load(b, tb, bi * sb + ib);
                    if (round_tf32) {
                        x = tf32(x);
                        y = tf32(y);
                    }
                    acc += x * y;
                }
                long long ic = bi * sc + i + (long long)j * ldc;
                float old = beta == 0.0f ? 0.0f : beta * load(c, tc, ic);
                store(c, tc, ic, alpha * acc + old);
            }
        }
    }
}

uintptr_t ar_emu_malloc(size_t n) {
    void* p = std::aligned_alloc(256, (n + 255) / 256 * 256);
    // Fresh device memory holds garbage: NaN bytes make a kernel that reads it fail parity.
    if (p) std::memset(p, 0xff, n);
    return reinterpret_cast<uintptr_t>(p);
}
void ar_emu_free(uintptr_t p) { std::free(reinterpret_cast<void*>(p)); }
void ar_emu_upload(uintptr_t dst, const void* src, size_t n) { std::memcpy(reinterpret_cast<void*>(dst), src, n); }
void ar_emu_download(void* dst, uintptr_t src, size_t n) { std::memcpy(dst, reinterpret_cast<const void*>(src), n); }
