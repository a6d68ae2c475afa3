# dream — build and test.
#
#   make test    installs what the tests need when missing (Debian packages;
#                needs root or sudo), then runs go vet, the whole test suite,
#                the race detector on the concurrent packages, a short fuzz
#                pass, and the viewer's tests under xvfb-run.
#   make bench   runs the benchmarks.

GO        ?= go
DEB_PKGS  := libopenblas-dev python3 python3-numpy python3-torch xvfb xauth libx11-dev libxrandr-dev libxcursor-dev \
             libxinerama-dev libxi-dev libxxf86vm-dev libgl1-mesa-dev pkg-config
# python3 and python3-numpy run the Gymnasium bridge in the tests
# (testdata/gym stands in for gymnasium); python3-torch runs the PyTorch
# twin of the world model, whose agreement with dream's training step
# experiments/bench tests. OpenBLAS is used when it is installed; the
# pure-Go BLAS otherwise.
BLAS_TAGS := $(shell test -e /usr/include/x86_64-linux-gnu/cblas.h -o -e /usr/include/cblas.h -o -e /usr/include/openblas/cblas.h && echo openblas)
export CGO_LDFLAGS := $(if $(BLAS_TAGS),-lopenblas,)
TAGS      := $(if $(BLAS_TAGS),-tags $(BLAS_TAGS),)
CORE_PKGS := $(shell $(GO) list ./... 2>/dev/null | grep -v /cmd/viz)
RACE_PKGS := ./envs/... ./worldmodel/... ./agent/... ./cmd/dream/...
# Each fuzz target runs a fixed number of inputs, about 10 s of fuzzing on
# this project's 2-core machine (FUZZTIME=10s, say, sets one budget for
# all). A count, unlike a duration, has no wall-clock deadline for Go's
# fuzzing coordinator to race: with -fuzztime 10s a target sometimes fails
# with a bare "context deadline exceeded" at the deadline, having found
# nothing (go.dev/issue/75804, fixed after Go 1.26).
FUZZTIME  ?=
# The fuzzer minimises each new corpus entry for up to 60 s by default and
# runs no new inputs meanwhile; a short limit lets a short pass fuzz.
FUZZMINTIME ?= 2s

.PHONY: test deps vet unit race fuzz viz nocgo bench

test: deps vet nocgo unit race fuzz viz

deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

vet:
	$(GO) vet $(TAGS) ./...

nocgo:
	CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/dream

unit:
	$(GO) test $(TAGS) -timeout 20m $(CORE_PKGS)

race:
	$(GO) test $(TAGS) -race -timeout 20m $(RACE_PKGS)

fuzz:
	@for t in $$($(GO) list -f '{{.ImportPath}}' ./... | grep -v /cmd/viz); do \
		for f in $$($(GO) test -list '^Fuzz' $$t 2>/dev/null | grep '^Fuzz'); do \
			n="$(FUZZTIME)"; \
			if [ -z "$$n" ]; then case $$f in \
				FuzzReadCheckpoint) n=8000x ;; \
				FuzzParseConfig) n=10000x ;; \
				FuzzStepRender|FuzzReadFrom) n=30000x ;; \
				*) n=300000x ;; \
			esac; fi; \
			echo "fuzz $$t $$f ($$n)"; \
			$(GO) test $(TAGS) -run '^$$' -fuzz "^$$f$$" -fuzztime $$n -fuzzminimizetime $(FUZZMINTIME) $$t || exit 1; \
		done; \
	done

viz:
	@if [ -d cmd/viz ]; then xvfb-run -a -s "-screen 0 1280x1024x24" $(GO) test $(TAGS) ./cmd/viz/...; fi

bench:
	$(GO) test $(TAGS) -run '^$$' -bench . -benchmem $(CORE_PKGS)
