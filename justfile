# Shortcuts for the commands of the README and of CI.

# Run the server on its embedded defaults (SQLite and files under ./data).
run:
    cargo run -p hub-server

# Run the whole test suite (the PostgreSQL half runs when a server answers on 127.0.0.1:5432).
test:
    cargo test --workspace

# Run the whole test suite and fail if PostgreSQL is not reachable.
test-pg:
    ALLURE_HUB_REQUIRE_PG=1 cargo test --workspace

# Formatting, clippy and the dependency rule.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    bash .ci/check-deps

# Dependency checks: cargo-deny (licences, advisories, duplicates, sources) and cargo-machete (unused dependencies).
deps:
    bash .ci/deps-check

# Format the code.
fmt:
    cargo fmt --all

# Exactly what CI runs.
ci:
    bash .ci/run

# Upload benchmark: both strategies against a release build, compared with `unzip -q` (sizes in MiB).
bench-upload sizes="500":
    cargo build --release -p hub-server
    python3 bench/upload.py --sizes {{sizes}} --binary "${CARGO_TARGET_DIR:-target}/release/allure-hub"

# The upload benchmark on S3 (moto on loopback) beside the filesystem, chunks sent out of order: times and the
# server's peak RSS against the 64 MiB budget (issue 17: a 1 GiB upload to S3 within it).
bench-upload-s3 sizes="1024":
    cargo build --release -p hub-server
    python3 bench/upload.py --storage s3 --sizes {{sizes}} --binary "${CARGO_TARGET_DIR:-target}/release/allure-hub"

# Generation benchmark: a bare `allure generate` vs upload -> report ready on a release build (target <= 1.15x).
bench-generate tests="2000" runs="5":
    cargo build --release -p hub-server
    python3 bench/generate.py --tests {{tests}} --runs {{runs}} --binary "${CARGO_TARGET_DIR:-target}/release/allure-hub"

# API latency benchmark: 100,000 builds on SQLite and on PostgreSQL (database `allure_hub_bench` on `pg`, dropped
# and recreated), p50/p99 of the overview and project stats under concurrent clients (target p99 <= 50 ms).
bench-api builds="100000" clients="8" pg="postgres://postgres@127.0.0.1:5432":
    cargo build --release -p hub-server
    python3 bench/api.py --builds {{builds}} --clients {{clients}} --pg-url {{pg}} --binary "${CARGO_TARGET_DIR:-target}/release/allure-hub"

# Build the mdBook documentation (into $CARGO_TARGET_DIR/book) and run every command it shows against a real server.
docs:
    bash .ci/docs-check

# Deployment recipes: linters and validators, then the release binary behind nginx and Caddy.
deploy-check:
    bash .ci/deploy-check

# Web UI benchmark: TTFB and transfer size of every page in Chromium, 50 projects and 10,000 builds (targets 100 ms, 150 KB).
bench-ui builds="10000":
    cargo build --release -p hub-server
    python3 bench/ui.py --builds {{builds}} --binary "${CARGO_TARGET_DIR:-target}/release/allure-hub"

# Storage benchmark: one results set through the filesystem and through S3 (moto on loopback) beside a bare `allure
# generate`: upload -> ready, report page load in Chromium, objects and bytes per build (targets 1.10x, 1.3x, 1.2x).
bench-storage tests="1300" runs="3":
    cargo build --release -p hub-server
    python3 bench/storage.py --tests {{tests}} --runs {{runs}} --binary "${CARGO_TARGET_DIR:-target}/release/allure-hub"
