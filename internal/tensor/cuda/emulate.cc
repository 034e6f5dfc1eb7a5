//go:build cudaemu && !cuda

// emulate.cc: the CPU emulator's scheduler, kernel registry, memory and cuBLAS stand-in.
// See emulate.h for the model.
#include "emulate.h"
#include "emulate_api.h"

#include <ucontext.h>

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

enum State { RUNNING, AT_BLOCK_BARRIER, AT_WARP_BARRIER, DONE };

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
std::vector<unsigned char> dynamic_smem;

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
    }
    int warps = (n + 31) / 32;
    for (;;) {
        bool ran = false;
        for (int t = 0; t < n; t++) {
            if (fibers[t].state != RUNNING) continue;
            set_thread(t);
            swapcontext(&scheduler, &fibers[t].ctx);
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

void* ar_emu_dynamic_smem() { return dynamic_smem.data(); }

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
    dynamic_smem.assign(smem + 16, 0xff);
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
// C_i = alpha * op(A_i) op(B_i) + beta * C_i.
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
                 int ldc, long long sc, int batch) {
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
                    acc += load(a, ta, bi * sa + ia) * load(b, tb, bi * sb + ib);
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
