"""The report's assumptions: prices, planner and simulation settings, and each case's inputs."""

from __future__ import annotations

from collections.abc import Sequence

from capplan.hardware import GPU_CATALOG, HOURS_PER_MONTH, TENSOR_PARALLEL_EFFICIENCY
from capplan.llm.profile import roofline_assumptions
from capplan.planner.recommendation import Recommendation
from capplan.report.blocks import Block, Bullets, Heading, Paragraph, Table
from capplan.report.text import gpu_rows, num, price_text
from capplan.scenario import Case, Scenario, ServiceSpec
from capplan.workload import describe as describe_workload


def _gpu_types_used(docs: Sequence[Recommendation]) -> list[str]:
    used: set[str | None] = set()
    for doc in docs:
        configs = [doc.current, doc.rule_of_thumb, doc.best_achievable, *doc.explored]
        used |= {c.gpu_type for c in configs if c is not None}
        used |= {row.gpu_type for row in gpu_rows(doc)}
    return [name for name in GPU_CATALOG if name in used]


def assumptions(
    scenario: Scenario, docs: Sequence[Recommendation], command: str, version: str
) -> list[Block]:
    prices = scenario.prices
    price_rows = []
    for name in _gpu_types_used(docs):
        price = prices.gpu_per_hour[name]
        default = GPU_CATALOG[name].price_per_hour
        source = "default (public on-demand ballpark)" if price == default else "scenario [costs]"
        spec = GPU_CATALOG[name]
        price_rows.append(
            (
                name,
                price_text(price),
                source,
                f"{spec.memory_gb:g}",
                f"{spec.fp16_tflops:,.0f}",
                f"{spec.bandwidth_gbs:,.0f}",
            )
        )
    sim = scenario.simulation
    planner = scenario.planner
    gpu_types = (
        ", ".join(planner.gpu_types) if planner.gpu_types else "every type that holds the model"
    )
    blocks: list[Block] = [
        Heading(2, "Assumptions", "assumptions"),
        Paragraph(
            "These are inputs, not measurements: prices are ASSUMPTIONS (public on-demand "
            "ballparks unless the scenario's [costs] table overrides them), and speeds of GPU "
            "types other than the reference GPU are derived by ratios (prefill ∝ FP16 "
            "throughput, decode ∝ memory bandwidth)."
        ),
        Table(
            (
                "GPU type",
                "$/GPU-hour (assumption)",
                "source",
                "memory GB",
                "FP16 TFLOPS",
                "bandwidth GB/s",
            ),
            tuple(price_rows),
            ("l", "r", "l", "r", "r", "r"),
        ),
        Bullets(
            (
                f"CPU price (assumption): ${prices.cpu_per_hour:g} per vCPU-hour; memory price "
                f"(assumption): ${prices.memory_gib_per_hour:g} per GiB-hour.",
                f"Month = {HOURS_PER_MONTH} hours.",
                f"Tensor-parallel efficiency (assumption): {TENSOR_PARALLEL_EFFICIENCY:g} of "
                "the speed kept per doubling of GPUs, when a model is spread over more GPUs.",
                f"Seed {scenario.seed}; planner replications {planner.replications} per "
                "confirmed configuration (candidates are explored with 1); SLO judged on the "
                "one-sided upper confidence limit of each percentile at the SLO's confidence "
                "and a Clopper-Pearson limit of the error rate. Figures show replication 0.",
                f"Planner grid: per_worker {', '.join(map(str, planner.per_worker))}; GPU types "
                f"{gpu_types}; max_workers cap {planner.max_workers_cap}; GPU count may change "
                f"to fit the model: {'yes' if planner.change_gpu_count else 'no'}; sensitivity at "
                f"{', '.join(f'{f:g}×' for f in planner.sensitivity) or 'no'} traffic.",
                f"Simulation: autoscaler {sim.autoscaler}; gateway retries {sim.max_retries} "
                f"(backoff base {sim.retry_backoff_base:g}, wait {sim.retry_min_wait_s:g}–"
                f"{sim.retry_max_wait_s:g} s, timeout {sim.gateway_timeout_s:g} s); drain grace "
                f"{sim.drain_grace_sync_s:g} s sync / {sim.drain_grace_async_s:g} s async; async "
                f"concurrency cap {sim.async_concurrency_cap}; readiness probe period "
                f"{sim.readiness_probe_period_s:g} s.",
                _autoscaler_text(scenario),
                f"capplan version {version}.",
                f"Reproduce: {command}",
            )
        ),
    ]
    return blocks


def _autoscaler_text(scenario: Scenario) -> str:
    """The [autoscaler] constants changed from Launch's defaults, if any."""
    spec = scenario.autoscaler
    changed = sorted(spec.model_fields_set)
    if not changed:
        return "Autoscaler constants: Launch's and Kubernetes' defaults ([autoscaler] unset)."
    values = ", ".join(f"{k} = {getattr(spec, k)}" for k in changed)
    return f"Autoscaler constants changed from the defaults: {values}."


def _service_text(s: ServiceSpec) -> str:
    if s.kind in ("tokens", "llm"):
        model = "token-based" if s.kind == "tokens" else "LLM serving engine (one per worker)"
        figures = (
            f"{model}: prefill {s.prefill_tokens_per_s:,.6g} tokens/s, decode "
            f"{s.decode_tokens_per_s:,.6g} tokens/s, overhead {s.overhead_s:g} s per request"
        )
    else:
        figures = f"latency-based: {s.latency_dist().describe()} s per request"
        figures += f", scales with {s.scales_with} on other GPUs"
    ref = f"{s.reference_gpus or 1}× {s.reference_gpu}" if s.reference_gpu else "CPU"
    return f"{figures}, measured alone (concurrency 1) on {ref}"


def _provisioning(value: float) -> str:
    if value <= 0:
        return "0 s (warm GPU capacity assumed)"
    return f"{value:g} s when no warm capacity"


def case_assumptions(case: Case) -> list[Block]:
    s, slo = case.service, case.slo
    ec = case.template.endpoint_config
    bc = case.template.bundle_config
    targets = ", ".join(f"{k.removesuffix('_s')} ≤ {v:g} s" for k, v in slo.targets().items())
    return [
        Heading(3, "Workload, service profile and SLO (assumptions)"),
        Bullets(
            (
                f"Endpoint type {case.template.effective_endpoint_type}.",
                f"Workload: {describe_workload(case.workload)}.",
                f"Service profile: {_service_text(s)}.",
                f"Batching alpha {s.batching_alpha:g}: a worker serving k requests runs each at "
                f"1/(1 + {s.batching_alpha:g}·(k − 1)) speed; pod concurrency limit "
                f"{s.concurrency_limit}.",
                f"Cold start (image pull + model load): {s.cold_start.describe()} s (mean "
                f"{s.cold_start.expected:.3g} s); node provisioning "
                f"{_provisioning(s.node_provisioning_s)}; readiness initial delay "
                f"{bc.readiness_initial_delay_seconds} s; high_priority {ec.high_priority}.",
                f"Model memory {num(s.model_memory_gb)} GB (decides which GPU types and "
                "counts fit).",
                f"SLO: {targets or 'no latency target'}; error rate ≤ {slo.max_error_rate:.2%}; "
                f"confidence {slo.confidence:g}.",
                *_engine_assumptions(s),
            )
        ),
    ]


def _engine_assumptions(s: ServiceSpec) -> list[str]:
    """The llm kind: the engine's limits and the roofline efficiencies, when used."""
    if s.kind != "llm":
        return []
    kv = (
        f"{s.kv_cache_tokens:,.0f} tokens per worker (given)"
        if s.kv_cache_tokens is not None
        else "from the model card for each GPU type (in each configuration's table)"
    )
    return [
        f"Serving engine: max_num_seqs {s.max_num_seqs}; KV cache {kv}; admission "
        f"'{s.kv_admission}'; chunked prefill budget {s.max_num_batched_tokens} tokens.",
        *roofline_assumptions(s),
    ]
