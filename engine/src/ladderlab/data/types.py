"""What every dataset reader returns: plain examples plus the task's description.

Readers know nothing about tokenizers or models; ``ladderlab.data.pipeline`` turns these into batches.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Example:
    text_a: str
    text_b: str | None  # second sentence of pair tasks (MNLI, QQP, ...); None for single-sentence tasks
    label: int | float  # class index, or a float score for regression (STS-B)


@dataclass(frozen=True)
class TaskSpec:
    name: str  # sst2, mnli, ..., imdb, file
    labels: tuple[str, ...] | None  # class names in index order; None means regression
    metrics: tuple[str, ...]  # metric names computed by ladderlab.metrics.compute
    main_metric: str  # the one used to pick the best epoch

    @property
    def is_regression(self) -> bool:
        return self.labels is None

    @property
    def num_labels(self) -> int:
        return 1 if self.labels is None else len(self.labels)


@dataclass
class TaskData:
    """The three splits of the paper's rule (§4): train, validation (model selection), test (reported)."""

    spec: TaskSpec
    train: list[Example]
    validation: list[Example]
    test: list[Example]
    notes: list[str] = field(default_factory=list)  # e.g. "dev halved into validation/test"; emitted as log events
