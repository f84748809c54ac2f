"""The capacity planner: the cheapest configuration that meets the SLO, with evidence.

For each template:
1. Candidates (`bound`): every GPU type (× the GPU count that holds the model)
   and every per_worker in the grid. The analytic screen (capplan.analytic)
   drops GPU types where a request alone misses the SLO, and per_worker
   targets above the concurrency the SLO allows, and gives each candidate a
   cost estimate.
2. Search (`search`), cheapest estimate first, in waves: the smallest static
   pool M that meets the SLO (the search starts at Erlang C's count for the
   peak minute), then for each min_workers from the floor up the smallest
   max_workers that passes (a staircase). Every pass on replication 0 is kept.
   Candidates whose proven bound cannot beat the best found are skipped —
   except on the template's own GPU type, which a review always wants to see.
3. Confirmation (`confirmation`): the passes cheapest first on fresh
   replications; a failure's bumps (one more max or min) join the list, so
   the next runner-up or bump, whichever is cheaper, is tried next.
4. Evidence (`evidence`): the current configuration and the SGP rule of thumb
   simulated the same way; `sensitivity`: the recommendation at the [planner]
   sensitivity traffic factors (1.5× and 2×), by the same verdict, and the
   larger pool each failing factor needs.
5. The document (`document`): one typed `Recommendation` per template
   (`recommendation`: the pydantic models and their JSON Schema).
Every simulation uses the same seeds (common random numbers), so candidates
are compared on the same requests, and results never depend on the executor.
The SLO test itself is `verdict`; the knobs and how one is simulated, `config`.
A closed loop (`[workload] kind = "closed"`) has no arrival rate: no screening
case, estimates from its clients (ceil(C / k) workers), and no proven bound.
"""

from capplan.planner.config import (
    HOURS_PER_MONTH,
    Config,
    config_case,
    current_config,
    run_config,
)
from capplan.planner.document import plan_template, recommend
from capplan.planner.evidence import rule_of_thumb
from capplan.planner.recommendation import Recommendation
from capplan.planner.search import smallest_passing
from capplan.planner.sensitivity import workers_needed
from capplan.planner.verdict import meets_slo, passes_slo

__all__ = [
    "HOURS_PER_MONTH",
    "Config",
    "Recommendation",
    "config_case",
    "current_config",
    "meets_slo",
    "passes_slo",
    "plan_template",
    "recommend",
    "rule_of_thumb",
    "run_config",
    "smallest_passing",
    "workers_needed",
]
