#!/usr/bin/env bash
# bench_tokens: the hook of bench/suite.py (EXTERNAL_WORKLOADS) for bench/bench_tokens.py,
# login/token throughput of vouch-server's own token service side by side with the
# external-token setup (issue 14). Arguments are passed on: [--quick] [BUILD_DIR].
exec python3 "$(dirname "${BASH_SOURCE[0]}")/bench_tokens.py" "$@"
