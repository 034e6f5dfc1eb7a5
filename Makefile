# autoresearch — build, test, demo. Every install step lives here or in scripts/.
GO      ?= go
BIN     := bin/autoresearch
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GOFILES := $(shell find cmd internal harness gpt programs tools -name '*.go' 2>/dev/null)

.PHONY: all build test test-slurm test-python test-browser vet fmt-check pin-check pin-baseline demo bench keepsim build-cuda cuda-sdk cuda-check cuda-emu gpu-syntax gpu-check gpu-check-1 gpu-check-2 gpu-check-3 gpu-bench device-pack

all: build

build:
	$(GO) build -buildvcs=false -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/autoresearch

# The tests need no GPU, no network and no prepared data.
test: fmt-check vet pin-check
	$(GO) test ./...

# The Slurm executor against a real one-node cluster on this machine (installed from Debian's
# packages when missing; needs root): started first, stopped after, whatever the tests did.
test-slurm:
	bash scripts/slurm-local.sh start
	@eval "$$(bash scripts/slurm-local.sh env)"; status=0; \
	$(GO) test -tags slurm -count=1 -run Slurm ./internal/runner/ ./internal/experiment/ ./internal/doctor/ || status=$$?; \
	bash scripts/slurm-local.sh stop; exit $$status

# A Python task with the user's Python: a pyenv-style shim, a conda-style prefix and a
# virtualenv seeing Debian's numpy (python3-venv and python3-numpy installed when missing),
# each run under the sandbox beside the hostile program.
test-python:
	bash scripts/python-deps.sh
	$(GO) test -count=1 -run Python ./internal/task/ ./internal/runner/ ./internal/doctor/

# The HTML report in headless Chromium (installed from Debian's packages when missing): the
# DOM after its script ran, a screenshot, and no script error in the browser's log.
test-browser:
	bash scripts/chromium.sh
	$(GO) test -tags browser -count=1 -run Browser ./internal/report/

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# gpt/baseline tests a pinned copy of gpt/train.go (gpt/baseline/README.md): the copy must be the
# shipped baseline. A research branch, whose train.go the agent changed, fails this step only,
# not `go test ./...`.
pin-check:
	@cmp -s gpt/train.go gpt/baseline/train.go || { echo 'gpt/baseline/train.go is not the current gpt/train.go: run "make pin-baseline"'; exit 1; }

# Pins the current gpt/train.go as the baseline that gpt/baseline's reference checks test.
pin-baseline:
	cp gpt/train.go gpt/baseline/train.go

# The first thing to run on a fresh machine: prepare the smoke profile, record
# a baseline, run five experiments with the offline sweep agent, show results.
ifndef DEMO_TAG
DEMO_TAG := demo-$(shell date +%m%d-%H%M%S)
endif
demo: build
	$(BIN) prepare --profile smoke
	$(BIN) baseline --profile smoke --tag $(DEMO_TAG)
	$(BIN) run --agent sweep --max-experiments 5 --tag $(DEMO_TAG)
	@echo; cat .autoresearch/$(DEMO_TAG)/results.tsv

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The keep rule judged by simulation: the table of false keeps, power and runs per change.
keepsim:
	$(GO) run ./tools/keepsim

# ---- CUDA ----
# The toolkit when the machine has one (the GPU machine: /usr/local/cuda), else the project's
# own SDK of CUDA headers, link stubs and NVRTC (scripts/cuda-sdk.sh), enough to compile, link
# and compile kernels to PTX without a GPU. CGO_CFLAGS puts the CUDA 13 compatibility header's
# folder first (internal/tensor/cuda/include/cuda.h wraps the real cuda.h).
# The toolkit is searched like the trainer's build does (internal/runner.CUDAHome): CUDA_HOME,
# CUDA_PATH, /usr/local/cuda, /opt/cuda, /usr/local/cuda-X.Y (highest first), the first with
# include/cuda.h.
CUDA_HOME ?= $(shell for d in "$$CUDA_PATH" /usr/local/cuda /opt/cuda $$(ls -d /usr/local/cuda-* 2>/dev/null | sort -rV); do \
	if [ -n "$$d" ] && [ -f "$$d/include/cuda.h" ]; then echo "$$d"; break; fi; done)
CUDA_SDK  ?= $(HOME)/.cache/autoresearch/cuda-sdk
ifneq ($(CUDA_HOME),)
CUDA_INC    := $(CUDA_HOME)/include
CUDA_LDDIRS := -L$(CUDA_HOME)/lib64 -L$(CUDA_HOME)/lib64/stubs -Wl,-rpath,$(CUDA_HOME)/lib64
CUDA_RUNLIB := $(CUDA_HOME)/lib64
else
CUDA_INC    := $(CUDA_SDK)/include
CUDA_LDDIRS := -L$(CUDA_SDK)/lib/stubs
CUDA_RUNLIB := $(CUDA_SDK)/lib/nvrtc
endif
# NVRTC loads its builtins library with dlopen, which an rpath does not reach: hence the
# library path for the commands that run NVRTC.
CUDA_ENV := CGO_ENABLED=1 CGO_CFLAGS="-I$(CURDIR)/internal/tensor/cuda/include -I$(CUDA_INC)" \
	CGO_LDFLAGS="$(CUDA_LDDIRS)" CUDA_HOME="$(or $(CUDA_HOME),$(CUDA_SDK))" \
	LD_LIBRARY_PATH="$(CUDA_RUNLIB)$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH}"
CUDA_PKG := ./internal/tensor/cuda/

# Installs the SDK when the machine has no toolkit (idempotent, ~35 s the first time).
cuda-sdk:
	@if [ -z "$(CUDA_HOME)" ]; then bash scripts/cuda-sdk.sh "$(CUDA_SDK)"; fi

# Every package and command with -tags cuda, linked, into bin/cuda/ (ptxcheck, the training
# program). A binary built against the SDK's stubs cannot run GPU code: build on the GPU machine.
build-cuda: cuda-sdk
	$(CUDA_ENV) $(GO) build -tags cuda -o bin/cuda/ ./...

# The backend on the CPU emulator of CUDA (emulate.h): its parity tests run every kernel here.
cuda-emu:
	$(GO) vet -tags cudaemu $(CUDA_PKG) ./gpt/...
	$(GO) test -tags cudaemu -count=1 -timeout 45m $(CUDA_PKG)
	$(GO) test -tags cudaemu -count=1 -timeout 20m -run '^TestTrainingStepOnTheGPU$$' ./gpt/baseline/

# No GPU needed: vet, compile and link the cuda-tagged code and its tests, compile every kernel
# to PTX for sm_90 with NVRTC (a kernel that does not compile fails), run the parity tests on
# the emulator.
cuda-check: gpu-syntax build-cuda
	$(CUDA_ENV) $(GO) vet -tags cuda ./...
	$(CUDA_ENV) $(GO) test -tags cuda -c -o bin/cuda/cuda.test $(CUDA_PKG)
	$(CUDA_ENV) $(GO) test -tags cuda -count=1 ./internal/tensor/cuda/ptx/ ./internal/tensor/cuda/kernels/
	$(CUDA_ENV) bin/cuda/ptxcheck -arch compute_90 -sass sm_90
	$(MAKE) --no-print-directory cuda-emu

# The project's cgo layer (driver_cuda.c: cuda.h through the compatibility header, cublas_v2.h)
# against this machine's CUDA headers, in about a second: the first device step on a new
# toolkit, before minutes of building (make cuda-check runs it against the SDK's headers).
gpu-syntax: cuda-sdk
	$(CC) -fsyntax-only -Werror=implicit-function-declaration -Werror=incompatible-pointer-types \
		-Werror=int-conversion -I$(CURDIR)/internal/tensor/cuda/include -I$(CUDA_INC) $(CUDA_PKG)driver_cuda.c
	@echo "gpu-syntax: driver_cuda.c compiles against $(CUDA_INC)"

# For a GPU machine without Go or network: pack Go and the vendored modules into .device-pack/,
# then carry the tree there and run `bash .device-pack/with-go make gpu-check`.
device-pack:
	bash scripts/device-pack.sh

# On the GPU machine (bash .device-pack/with-go make gpu-check), in three stages that each
# print a table of their steps last (scripts/gpu-check.sh):
#   gpu-check-1  the card, gpu-syntax, the backend built, every kernel compiled to PTX and
#                assembled for the card's architecture, three parity tests (GEMM, elementwise,
#                attention): well under ten minutes with a cold build cache
#   gpu-check-2  every other parity test against the CPU backend, a whole depth-8 training step
#                included (relative error of every check printed in a table)
#   gpu-check-3  the depth-8 baseline of the gpu profile trained for 60 s on random tokens
#                (tokens/s, MFU, peak memory)
gpu-check: gpu-check-1 gpu-check-2 gpu-check-3

gpu-check-1 gpu-check-2 gpu-check-3: cuda-sdk
	$(CUDA_ENV) GO="$(GO)" bash scripts/gpu-check.sh $(subst gpu-check-,,$@)

# On the GPU machine (bash .device-pack/with-go make gpu-bench): kernels for its architecture,
# the parity tests, the attention kernels' speed, the real trainer (gpt/train.go) for 20 steps,
# then the depth-8 step in each configuration with per-phase GPU times; the table last.
gpu-bench: build-cuda
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
	$(CUDA_ENV) bin/cuda/ptxcheck -arch $(GPU_ARCH)
	$(CUDA_ENV) $(GO) test -tags cuda -c -o bin/cuda/cuda.test $(CUDA_PKG)
	$(CUDA_ENV) bash scripts/gpu-bench.sh
