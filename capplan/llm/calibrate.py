"""Fit an LLM service profile to load-test results by simulating every load level.

Inputs are what users already have: `vllm bench serve --save-result` (or the
older `benchmark_serving.py`) JSON files, one per load level, and CSV tables of
published results with the columns `mode,load,input_len,output_len,ttft_ms,tpot_ms`.
Each level is replayed on one simulated worker (`capplan.llm.loadtest`) and
`prefill_tokens_per_s`, `decode_tokens_per_s`, `batching_alpha` and
`overhead_s` are chosen by least squares on the log of mean TTFT and mean TPOT
(relative errors, so a 40 ms TPOT and a 4 s TTFT weigh alike). Queueing inside
the engine is part of every prediction, not a formula fitted beside it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from capplan.errors import CapplanError
from capplan.llm.batch import INF, LlmParams
from capplan.llm.loadtest import Mode, run_load

CSV_COLUMNS = ("mode", "load", "input_len", "output_len", "ttft_ms", "tpot_ms")
CSV_CLOSED_REQUESTS_PER_CLIENT = 10  # a published row has no request count: assume this
CSV_POISSON_REQUESTS = 300
SEED = 20_241_130  # Poisson levels draw their arrivals from this, for every candidate alike


@dataclass(frozen=True)
class Level:
    """One load level: its shape, its requests' token counts and what was measured."""

    mode: Mode
    load: float  # N (burst), C (closed) or requests/s (poisson)
    prompt: np.ndarray
    output: np.ndarray
    ttft_ms: float  # measured means
    tpot_ms: float
    source: str


@dataclass(frozen=True)
class Fit:
    params: LlmParams
    levels: list[Level]
    predicted: list[tuple[float, float]]  # (ttft_ms, tpot_ms) per level

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "mode": lv.mode,
                "load": lv.load,
                "measured": {"ttft_ms": lv.ttft_ms, "tpot_ms": lv.tpot_ms},
                "fitted": {"ttft_ms": p[0], "tpot_ms": p[1]},
            }
            for lv, p in zip(self.levels, self.predicted, strict=True)
        ]

    def service(self) -> dict[str, float]:
        p = self.params
        return {
            "prefill_tokens_per_s": round(p.prefill_tokens_per_s, 1),
            "decode_tokens_per_s": round(p.decode_tokens_per_s, 3),
            "batching_alpha": round(p.batching_alpha, 5),
            "overhead_s": round(p.overhead_s, 4),
        }


# ---------------------------------------------------------------- reading
def read_levels(paths: list[Path]) -> list[Level]:
    levels: list[Level] = []
    for path in paths:
        levels.extend(_read_csv(path) if path.suffix.lower() == ".csv" else [_read_json(path)])
    if not levels:
        raise CapplanError("calibrate: no load levels in the files given")
    return levels


def _read_json(path: Path) -> Level:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CapplanError(f"{path}: cannot read a vllm bench JSON file ({exc})") from None
    if not isinstance(data, dict):
        raise CapplanError(f"{path}: not a vllm bench result (a JSON object)")
    try:
        inputs = np.asarray(data["input_lens"], dtype=float)
        outputs = np.asarray(data["output_lens"], dtype=float)
        ttfts = np.asarray(data["ttfts"], dtype=float)
        itls = [np.asarray(x, dtype=float) for x in data["itls"]]
    except KeyError as exc:
        raise CapplanError(
            f"{path}: missing {exc.args[0]!r}; need input_lens, output_lens, "
            "ttfts, itls (vllm bench serve --save-result)"
        ) from None
    except (TypeError, ValueError):
        raise CapplanError(
            f"{path}: input_lens, output_lens, ttfts and itls must be numbers"
        ) from None
    if not len(inputs) == len(outputs) == len(ttfts) == len(itls):
        raise CapplanError(f"{path}: input_lens, output_lens, ttfts and itls differ in length")
    keep = outputs > 0  # failed or empty requests: some tools log them with TTFT 0
    if not keep.any():
        raise CapplanError(f"{path}: no request with output tokens")
    mode, load = _json_shape(data, int(keep.sum()), path)
    many = keep & (outputs >= 2)
    tpot = [itls[i].sum() / (outputs[i] - 1) for i in np.flatnonzero(many)]
    return Level(
        mode,
        load,
        inputs[keep],
        outputs[keep],
        float(ttfts[keep].mean() * 1000),
        float(np.mean(tpot) * 1000) if tpot else math.nan,
        str(path),
    )


def _json_shape(data: dict[str, Any], n: int, path: Path) -> tuple[Mode, float]:
    rate = _number(data.get("request_rate", "inf"), "request_rate", path)
    conc = data.get("max_concurrency")
    if conc is not None:
        return "closed", _number(conc, "max_concurrency", path)
    if math.isinf(rate):
        return "burst", float(n)
    return "poisson", rate


def _number(value: Any, key: str, path: Path) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise CapplanError(f'{path}: {key} must be a number or "inf", got {value!r}') from None
    if not x > 0:
        raise CapplanError(f"{path}: {key} must be > 0, got {value!r}")
    return x


def _read_csv(path: Path) -> list[Level]:
    try:
        table = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CapplanError(f"{path}: cannot read a results CSV ({exc})") from None
    missing = [c for c in CSV_COLUMNS if c not in table.columns]
    if missing:
        raise CapplanError(f"{path}: missing column {missing[0]!r}; need {','.join(CSV_COLUMNS)}")
    return [_csv_level(row, n + 2, path) for n, row in enumerate(table.to_dict("records"))]


def _csv_level(row: dict[str, Any], line: int, path: Path) -> Level:
    mode = str(row["mode"]).strip()
    if mode not in ("burst", "closed", "poisson"):
        raise CapplanError(f"{path}:{line}: mode must be burst, closed or poisson, got {mode!r}")
    nums = {}
    for key in CSV_COLUMNS[1:]:
        try:
            nums[key] = float(row[key])
        except (TypeError, ValueError):
            nums[key] = math.nan
        if not (math.isfinite(nums[key]) and nums[key] > 0):
            raise CapplanError(f"{path}:{line}: {key} must be a number > 0, got {row[key]!r}")
    load = nums["load"]
    n = {
        "burst": int(load),
        "closed": int(load) * CSV_CLOSED_REQUESTS_PER_CLIENT,
        "poisson": CSV_POISSON_REQUESTS,
    }[mode]
    return Level(
        mode,  # type: ignore[arg-type]
        load,
        np.full(max(n, 1), round(nums["input_len"])),
        np.full(max(n, 1), round(nums["output_len"])),
        nums["ttft_ms"],
        nums["tpot_ms"],
        f"{path}:{line}",
    )


# ---------------------------------------------------------------- fitting
def predict(params: LlmParams, level: Level) -> tuple[float, float]:
    """Simulated mean TTFT and mean TPOT (ms) of one level."""
    r = run_load(
        params, level.prompt, level.output, level.mode, level.load, np.random.default_rng(SEED)
    )
    tpot = r.tpot
    return float(r.ttft.mean() * 1000), float(tpot.mean() * 1000) if len(tpot) else math.nan


def fit(levels: list[Level], *, max_num_seqs: int = 256, kv_cache_tokens: float = INF) -> Fit:
    """Least squares on log(predicted / measured) of TTFT and TPOT over every level."""

    def params_of(x: np.ndarray) -> LlmParams:
        return LlmParams(
            prefill_tokens_per_s=math.exp(x[0]),
            decode_tokens_per_s=math.exp(x[1]),
            batching_alpha=float(x[2]),
            overhead_s=float(x[3]),
            max_num_seqs=max_num_seqs,
            kv_cache_tokens=kv_cache_tokens,
            max_num_batched_tokens=max(2048, max_num_seqs),
        )

    def residuals(x: np.ndarray) -> np.ndarray:
        p = params_of(x)
        out = []
        for lv in levels:
            ttft, tpot = predict(p, lv)
            out.append(math.log(ttft / lv.ttft_ms))
            if math.isfinite(lv.tpot_ms) and math.isfinite(tpot):
                out.append(math.log(tpot / lv.tpot_ms))
        return np.asarray(out)

    best = None
    for x0 in _starts(levels):
        res = least_squares(
            residuals,
            x0,
            bounds=(
                [math.log(10), math.log(0.1), 0.0, 0.0],
                [math.log(1e7), math.log(1e4), 1.0, 60.0],
            ),
            diff_step=1e-3,
            x_scale=[1.0, 1.0, 0.01, 0.05],
        )
        if best is None or res.cost < best.cost:
            best = res
    assert best is not None
    params = params_of(best.x)
    return Fit(params, levels, [predict(params, lv) for lv in levels])


def _starts(levels: list[Level]) -> list[np.ndarray]:
    """Starting points from the lightest level: one request alone gives both speeds."""
    light = min(levels, key=lambda lv: lv.load if lv.mode != "poisson" else lv.load * 1e-3)
    tpot = light.tpot_ms if math.isfinite(light.tpot_ms) else 20.0
    decode = 1000.0 / tpot
    prefill = float(light.prompt.mean()) / max(light.ttft_ms / 1000.0, 1e-3)
    return [
        np.array([math.log(max(prefill, 20.0)), math.log(decode), a, 0.0]) for a in (0.005, 0.05)
    ]
