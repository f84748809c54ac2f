"""TTFT and TPOT against load for one simulated LLM worker (docs/llm_model.png).

    python benchmarks/llm_figure.py

The profile is the one `tests/test_llm_validation.py` fits to the published
Qwen2-7B-Instruct / A100 80GB / vLLM 0.10.1.1 bursts: Poisson arrivals of
1,024-token prompts and 256-token answers, 600 requests per load level.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from capplan.llm.batch import LlmParams  # noqa: E402
from capplan.llm.loadtest import run_load  # noqa: E402

PROFILE = LlmParams(
    prefill_tokens_per_s=30_700, decode_tokens_per_s=85.2, batching_alpha=0.0101,
    kv_cache_tokens=464_848,
)  # fmt: skip
OUT = Path(__file__).resolve().parents[1] / "docs" / "llm_model.png"


def main() -> None:
    rates = np.linspace(0.5, 16, 24)
    n = 600
    rows = []
    for rate in rates:
        r = run_load(PROFILE, np.full(n, 1024.0), np.full(n, 256.0), "poisson", rate,
                     np.random.default_rng(1))  # fmt: skip
        rows.append((np.percentile(r.ttft, 50), np.percentile(r.ttft, 99), r.tpot.mean()))
    ttft50, ttft99, tpot = (np.array(c) for c in zip(*rows, strict=True))
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    a.plot(rates, ttft50, label="p50")
    a.plot(rates, ttft99, label="p99")
    a.set(xlabel="requests/s", ylabel="TTFT (s)", yscale="log", title="Time to first token")
    a.legend()
    b.plot(rates, tpot * 1000)
    b.set(xlabel="requests/s", ylabel="TPOT (ms)", title="Time per output token (mean)")
    fig.suptitle("One simulated vLLM worker: Qwen2-7B on an A100 80GB (fitted profile)")
    fig.tight_layout()
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
