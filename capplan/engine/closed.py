"""The clients of a closed loop: each sends its next request when its last is answered.

One implementation for the endpoint (`run_endpoint(..., clients=C)`) and for
the single-worker load-test replayer (`capplan.llm.loadtest`). Requests are
sent in index order, so the requests sent so far are always 0 .. sent − 1.
"Answered" means any final status: a completion, a 429 or 503 the gateway
gave up retrying, a stream cut by a failed pod. A client whose request
failed sends its next one at once, as `vllm bench serve` does.
"""

from __future__ import annotations


class ClosedLoop:
    """`clients` clients sending `total` requests in all."""

    __slots__ = ("sent", "total")

    def __init__(self, clients: int, total: int) -> None:
        if clients < 1:
            raise ValueError(f"a closed loop needs at least one client, got {clients}")
        self.total = total
        self.sent = min(clients, total)  # every client sends its first request at once

    def first(self) -> range:
        """The requests sent at the start."""
        return range(self.sent)

    def answered(self) -> int | None:
        """A client got its answer: the request it sends next, or None when all are sent."""
        if self.sent >= self.total:
            return None
        self.sent += 1
        return self.sent - 1
