# SavvySolve API. `make help` lists the targets.
GO ?= go

.PHONY: help run test generate check-generated playground-assets db-check lint bench stress

help:
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

run: ## start the server on the embedded PostgreSQL (Playground at http://localhost:8080/)
	$(GO) run . serve

test: ## run every test (starts its own throwaway PostgreSQL)
	$(GO) test -race -count=1 ./...

generate: ## regenerate all generated code (gqlgen, and schema.graphql for frontend codegen)
	$(GO) run ./graph/codegen
	$(GO) run . schema > schema.graphql.tmp && mv schema.graphql.tmp schema.graphql

check-generated: generate ## fail when generated code is stale
	git diff --exit-code -- graph resolvers schema.graphql || (echo "generated code is stale: run make generate and commit" && exit 1)

playground-assets: ## refresh the Playground's vendored JS/CSS from npm
	./scripts/playground-assets.sh

db-check: ## check migrations/, atlas.sum and schema.hcl agree
	$(GO) run . db check

lint: ## gofmt, go vet, contract check
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go') && exit 1)
	$(GO) vet ./...
	$(GO) run -C ../shared/tools/contractcheck . -contract ../../api/contract-next.graphql -schema "$(CURDIR)/graph/**/*.graphqls"

bench: ## run the benchmarks (BENCH_SHORT=1 for a quick run)
	$(GO) run ./bench $(BENCH_FLAGS)

stress: ## the statement-count tests 50 times at -race -cpu 1,2,4 with every core busy (N=50)
	./scripts/stress-statements.sh $(or $(N),50)
