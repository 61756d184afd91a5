"""The detector as a user declares it: which fields, how large a window, how sure to be."""

from __future__ import annotations

from statistics import NormalDist

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AnomalyDetector(BaseModel):
    """Multivariate anomaly detection per key, in front of any agent.

    Readings (JSON objects) are keyed by ``key``; every ``window`` readings of a key make one
    feature vector (the mean of each of ``metrics``), which is scored by its squared
    Mahalanobis distance to that key's baseline: a mean and a shrunk covariance learnt from
    the key's first ``warmup`` windows and then followed online: the mean quickly (half-life
    ``half_life`` windows, so daily cycles and slow drift are followed), the covariance slowly
    (``scatter_half_life``), each window weighted down by how far out it lies, so a fault
    is learnt slowly and an outlier hardly at all.
    ``confirm`` windows in a row over the threshold open an incident, which emits one
    anomaly event; ``clear`` windows in a row under it close the incident.

    >>> detector = AnomalyDetector(key="machine_id", metrics=["vibration", "temperature"])
    >>> round(detector.limit(), 1)  # about the chi-square(2) quantile at 1 - 1e-4 (18.4)
    19.3
    >>> AnomalyDetector(key="m", metrics=["a", "a"])
    Traceback (most recent call last):
      ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for AnomalyDetector
      Value error, metrics must be distinct; 'a' is listed twice [type=value_error, ...]
    ...
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1, description="field of a reading that names its source")
    metrics: list[str] = Field(min_length=1, description="numeric fields scored jointly")
    time_field: str = Field(default="ts", description="field holding the reading's epoch time")
    window: int = Field(default=10, ge=1, description="readings per feature window")
    warmup: int = Field(default=20, ge=2, description="windows that build the baseline")
    half_life: float = Field(
        default=6.0, gt=0, description="windows for the baseline's mean to follow a change halfway"
    )
    scatter_half_life: float = Field(
        default=200.0, gt=0, description="windows for the baseline's covariance to do the same"
    )
    false_alarm_rate: float = Field(
        default=1e-4, gt=0, lt=1, description="per-window tail probability of the threshold"
    )
    threshold: float | None = Field(
        default=None, gt=0, description="squared distance that counts as anomalous (overrides)"
    )
    shrinkage: float = Field(
        default=0.3, ge=0, le=1, description="weight of the diagonal in the covariance"
    )
    confirm: int = Field(default=2, ge=1, description="windows over the threshold to open")
    clear: int = Field(default=3, ge=1, description="windows under the threshold to close")
    top: int = Field(default=3, ge=1, description="contributing metrics named in an event")

    @model_validator(mode="after")
    def _distinct(self) -> AnomalyDetector:
        seen: set[str] = set()
        for metric in self.metrics:
            if metric in seen:
                raise ValueError(f"metrics must be distinct; {metric!r} is listed twice")
            seen.add(metric)
        if self.key in seen or self.time_field in seen:
            raise ValueError("key and time_field cannot also be metrics")
        return self

    def limit(self) -> float:
        """The squared-distance threshold: ``threshold``, else the chi-square quantile of
        ``len(metrics)`` degrees of freedom at ``1 - false_alarm_rate`` (Wilson-Hilferty)."""
        if self.threshold is not None:
            return self.threshold
        k = len(self.metrics)
        z = NormalDist().inv_cdf(1 - self.false_alarm_rate)
        return float(k * (1 - 2 / (9 * k) + z * (2 / (9 * k)) ** 0.5) ** 3)
