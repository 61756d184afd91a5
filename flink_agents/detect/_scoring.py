"""Precision and recall of detections (or of actions) against known incidents."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel


class Incident(BaseModel):
    """A true incident: ``key`` was faulty from ``start`` until ``end`` (None: to the end)."""

    key: str
    kind: str = ""
    start: float
    end: float | None = None

    def covers(self, key: str, at: float) -> bool:
        return key == self.key and self.start <= at and (self.end is None or at <= self.end)


class Scores(BaseModel):
    """How detections matched incidents. ``delays`` are seconds from an incident's start to
    its first detection."""

    detections: int
    true_positives: int
    incidents: int
    detected: int
    delays: list[float]

    @property
    def precision(self) -> float:
        """Detections inside an incident, over all detections (1.0 when there are none)."""
        return self.true_positives / self.detections if self.detections else 1.0

    @property
    def recall(self) -> float:
        """Incidents detected at least once, over all incidents (1.0 when there are none)."""
        return self.detected / self.incidents if self.incidents else 1.0


def score(incidents: list[Incident], detections: Iterable[tuple[str, float]]) -> Scores:
    """Match ``(key, time)`` detections to incidents: a detection is true when an incident of
    its key covers its time; an incident counts as detected when one detection is.

    >>> truth = [Incident(key="m-02", start=100.0)]
    >>> s = score(truth, [("m-02", 160.0), ("m-01", 300.0)])
    >>> s.precision, s.recall, s.delays
    (0.5, 1.0, [60.0])
    """
    found = list(detections)
    hits = [next((i for i in incidents if i.covers(k, at)), None) for k, at in found]
    first: dict[int, float] = {}
    for (_, at), hit in zip(found, hits, strict=True):
        if hit is not None:
            position = incidents.index(hit)
            first[position] = min(first.get(position, at), at)
    return Scores(
        detections=len(found),
        true_positives=sum(hit is not None for hit in hits),
        incidents=len(incidents),
        detected=len(first),
        delays=[first[p] - incidents[p].start for p in sorted(first)],
    )
