"""`make bench`: run every benchmark module and print its lines (name: ours; baseline; ratio).

Each module under bench/ exposes run() -> list[str]. Benchmarks need PostgreSQL
(BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/oms_bench); they are never
part of the test suite.
"""

from __future__ import annotations

import importlib
import platform
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MODULES = ["ingest", "hot_sku", "push", "documents", "worklist", "csv_import", "memory"]


def main(argv: list[str]) -> int:
    wanted = argv or MODULES
    print(f"# machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
          flush=True)
    failed = 0
    for name in wanted:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                print(f"{name}: not measured (no bench/{name}.py yet)", flush=True)
                continue
            raise
        try:
            for text in module.run():
                print(text, flush=True)
        except Exception:
            failed += 1
            print(f"{name}: FAILED", flush=True)
            traceback.print_exc()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
