# ECS bandwidth autoscaler: build, run locally against the ECS emulator, test, measure, deploy.
GO      ?= go
BIN     := function/target/main
FLOOR   := function/.local/fcfloor
LDFLAGS := -s -w
export CGO_ENABLED := 0

.PHONY: build run test bench fuzz lint deploy invoke clean emulator simulate ctl soak

## build: the function binary (linux/amd64, static, stripped) next to the default policy.yaml
build:
	@mkdir -p function/target
	GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./function
	cp function/policy.yaml function/target/policy.yaml

## run: the main job, offline: ECS emulator + local FC runtime API + the built binary + events/
run: build
	$(GO) run ./function/cmd/localrun -binary $(BIN) -events events -log function/.local/localrun.log

## emulator: the ECS API emulator alone, with the sample instances
emulator:
	$(GO) run ./function/cmd/ecs-emulator -addr 127.0.0.1:8080 -instances function/emulator/testdata/instances.json

## test: everything CI runs (vet, the whole suite, a short fuzz run)
test: build
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 15s ./function/alarm

## soak: the deterministic simulation of money safety over many seeds; a
## failure names the seed to replay (go test ./function/scaler -run '^TestExplore$$' -seed=N -v)
soak:
	$(GO) test -count=1 -run '^TestExplore$$' ./function/scaler -schedules=2000 -timeout 60m

## bench: every benchmark, summarized in one table
# fcfloor stays out of function/target, which `s deploy` uploads.
bench: build
	@mkdir -p function/.local
	GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(FLOOR) ./function/cmd/fcfloor
	$(GO) run ./function/cmd/benchreport -binary $(BIN) -floor $(FLOOR)

## fuzz: a long fuzz run of the alarm decoder (FUZZTIME=10m by default)
FUZZTIME ?= 10m
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./function/alarm

## lint: gofmt, go vet, staticcheck (installed into GOPATH/bin on first use, pinned)
STATICCHECK_VERSION := v0.8.2
STATICCHECK         := $(shell $(GO) env GOPATH)/bin/staticcheck
lint: $(STATICCHECK)
	@out="$$(gofmt -l function)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN=$(dir $(STATICCHECK)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## deploy: build and deploy with Serverless Devs (needs `s` and credentials: s config add)
deploy:
	s deploy -t s.yaml

## invoke: invoke the deployed function with a sample event (EVENT=events/manual-dry-run.json by default)
EVENT ?= events/manual-dry-run.json
invoke:
	s invoke -t s.yaml -f $(EVENT)

## simulate: replay the bundled example traces through the real engine into function/.local/simulate/<name>/
SIM_TRACES := diurnal flash-crowd slow-ramp
simulate:
	@for t in $(SIM_TRACES); do \
		$(GO) run ./function/cmd/simulate -trace function/simulate/testdata/$$t.csv -policy function/policy.yaml -out function/.local/simulate/$$t || exit 1; \
	done

## ctl: the operator tool (ARGS="status", ARGS="alarms check -webhook URL", ...)
ARGS ?= status
ctl:
	$(GO) run ./function/cmd/bwctl $(ARGS)

clean:
	rm -rf function/target function/.local
