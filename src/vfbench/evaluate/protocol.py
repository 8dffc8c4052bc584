"""The evaluation protocol: a validated config dataclass (defaults < YAML < ``--set k=v``).

Load with ``vfbench.config.load_config(Protocol, "protocol.yaml", ["matching.n_trials=5000"])``
or build in Python. Every figure a run reports follows from these fields plus the seed, and
they are recorded (resolved) in ``results.json``. Defaults follow the paper where it is
explicit (Sec. 5.1: gender-balanced 1:2 queries; retrieval gallery of 500 faces from 100
identities with 40 voice queries each; Fig. 4b: 30 repeated test sets at 100/189/500/1000
identities; Table 3: joint matching with m_v, m_f up to 10 and joint retrieval m_v=20,
m_f=5) and are stricter where the peers are lax (ties get half credit; EER interpolated).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from vfbench.errors import ConfigError, EvaluationError
from vfbench.evaluate.metrics import AP_VARIANTS, EER_MODES, TIE_RULES
from vfbench.evaluate.trials import CONSTRAINTS, DIRECTIONS, TrialSet

TASKS = ("match", "verify", "retrieve", "joint", "repeated")
REPEATED_TASKS = ("match", "verify", "retrieve")
BREAKDOWNS = ("gender", "nationality", "language")  # built in; any other identity column works
INTERVALS = ("bootstrap-all", "bootstrap-identity", "wilson", "binomial")


@dataclass
class MatchingConfig:
    """1:n matching (paper Sec. 3.1, Fig. 4a) and constrained 1:2 variants."""

    n_values: list[int] = field(default_factory=lambda: list(range(2, 11)))  # U curve
    constraints: list[str] = field(default_factory=lambda: list(CONSTRAINTS))
    constrained_n: list[int] = field(default_factory=lambda: [2])  # n for G / N / GN
    n_trials: int = 10000
    gender_balanced: bool = True
    same: str = ""  # distractors share this identity column with the query (e.g. "source")

    def validate(self) -> None:
        for n in [*self.n_values, *self.constrained_n]:
            if not 2 <= n <= 100:
                raise ConfigError(f"matching n must be in 2..100, got {n}")
        for c in self.constraints:
            if c not in CONSTRAINTS:
                raise ConfigError(f"unknown constraint {c!r}; known: {list(CONSTRAINTS)}")
        if self.n_trials < 1:
            raise ConfigError(f"matching.n_trials must be >= 1, got {self.n_trials}")


@dataclass
class VerificationConfig:
    """Same person or not: half positive pairs; negatives obey ``constraint``."""

    n_pairs: int = 10000
    constraint: str = "U"
    same: str = ""  # negatives share this identity column with the anchor (e.g. "source")
    fars: list[float] = field(default_factory=lambda: [0.01, 0.001])

    def validate(self) -> None:
        if self.constraint not in CONSTRAINTS:
            raise ConfigError(f"unknown verification constraint {self.constraint!r}")
        if self.n_pairs < 2:
            raise ConfigError(f"verification.n_pairs must be >= 2, got {self.n_pairs}")
        for f in self.fars:
            if not 0 < f < 1:
                raise ConfigError(f"verification FAR must be in (0, 1), got {f}")


@dataclass
class RetrievalConfig:
    """Paper protocol (100 ids x 5 gallery items, 40 queries per id) and full gallery."""

    paper: bool = True
    n_identities: int = 100
    gallery_per_identity: int = 5
    queries_per_identity: int = 40
    full: bool = True
    full_max_queries: int = 20000
    full_max_gallery: int = 20000
    ks: list[int] = field(default_factory=lambda: [1, 5, 10])

    def validate(self) -> None:
        for name in ("n_identities", "gallery_per_identity", "queries_per_identity"):
            if getattr(self, name) < 1:
                raise ConfigError(f"retrieval.{name} must be >= 1")
        if any(k < 1 for k in self.ks):
            raise ConfigError("retrieval.ks must be >= 1")


@dataclass
class JointConfig:
    """Joint matching / retrieval on mean embeddings (paper Sec. 3.1, Table 3)."""

    m_values: list[int] = field(default_factory=lambda: [1, 2, 3, 5, 10])
    n: int = 2
    n_trials: int = 10000
    retrieval_m: list[list[int]] = field(default_factory=lambda: [[5, 5], [20, 5]])

    def validate(self) -> None:
        if any(m < 1 for m in self.m_values):
            raise ConfigError("joint.m_values must be >= 1")
        for pair in self.retrieval_m:
            if len(pair) != 2 or min(pair) < 1:
                raise ConfigError(f"joint.retrieval_m entries are [m_v, m_f] >= 1, got {pair}")


@dataclass
class RepeatedConfig:
    """Repeated random test sets (paper Sec. 3.2 / Fig. 4b): mean, std, t-interval per size."""

    repeats: int = 30
    sizes: list[int] = field(default_factory=lambda: [100, 189, 500, 1000])
    n_trials: int = 10000
    tasks: list[str] = field(default_factory=lambda: list(REPEATED_TASKS))
    # no t-interval when two random sets would share more than this fraction of identities
    # (size / pool): the sets are then nearly the same identities, not independent draws
    max_overlap: float = 0.5

    def validate(self) -> None:
        if not 0 < self.max_overlap <= 1:
            raise ConfigError(f"repeated.max_overlap must be in (0, 1], got {self.max_overlap}")
        if self.repeats < 2:
            raise ConfigError(f"repeated.repeats must be >= 2, got {self.repeats}")
        if any(s < 2 for s in self.sizes):
            raise ConfigError("repeated.sizes must be >= 2 identities")
        for t in self.tasks:
            if t not in REPEATED_TASKS:
                raise ConfigError(f"unknown repeated task {t!r}; known: {list(REPEATED_TASKS)}")


@dataclass
class Protocol:
    """Which tasks, directions, variants and statistics an evaluation computes."""

    tasks: list[str] = field(default_factory=lambda: list(TASKS))
    directions: list[str] = field(default_factory=lambda: list(DIRECTIONS))
    scorer: str = "cosine"
    tie_rule: str = "half"
    ap: str = "sklearn"
    eer: str = "interp"
    level: float = 0.95
    n_boot: int = 1000
    seed: int = 0
    split: str = ""
    by: list[str] = field(default_factory=lambda: ["gender"])
    matching: MatchingConfig = field(default_factory=MatchingConfig)
    verification: VerificationConfig = field(default_factory=VerificationConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    joint: JointConfig = field(default_factory=JointConfig)
    repeated: RepeatedConfig = field(default_factory=RepeatedConfig)

    def validate(self) -> None:
        for t in self.tasks:
            if t not in TASKS:
                raise ConfigError(f"unknown task {t!r}; known: {list(TASKS)}")
        for d in self.directions:
            if d not in DIRECTIONS:
                raise ConfigError(f"unknown direction {d!r}; known: {list(DIRECTIONS)}")
        if self.scorer not in ("cosine", "dot", "l2"):
            raise ConfigError(f"unknown scorer {self.scorer!r}; known: cosine, dot, l2")
        if self.tie_rule not in TIE_RULES:
            raise ConfigError(f"unknown tie_rule {self.tie_rule!r}; known: {list(TIE_RULES)}")
        if self.ap not in AP_VARIANTS:
            raise ConfigError(f"unknown ap {self.ap!r}; known: {list(AP_VARIANTS)}")
        if self.eer not in EER_MODES:
            raise ConfigError(f"unknown eer {self.eer!r}; known: {list(EER_MODES)}")
        if not 0 < self.level < 1:
            raise ConfigError(f"level must be in (0, 1), got {self.level}")
        if self.n_boot < 10:
            raise ConfigError(f"n_boot must be >= 10, got {self.n_boot}")
        for b in self.by:  # any identity column; unknown ones are refused by evaluate()
            if not b or not b.replace("_", "").replace("-", "").isalnum():
                raise ConfigError(f"by: {b!r} is not a column name")
        for sub in (self.matching, self.verification, self.retrieval, self.joint, self.repeated):
            sub.validate()

    @classmethod
    def quick(cls) -> Protocol:
        """A small protocol for smoke tests and CI (seconds, not minutes)."""
        p = cls()
        p.matching.n_trials = 2000
        p.matching.n_values = [2, 3, 5]
        p.verification.n_pairs = 2000
        p.joint.m_values = [1, 3]
        p.joint.n_trials = 1000
        p.joint.retrieval_m = [[3, 3]]
        p.repeated.repeats = 5
        p.repeated.sizes = [10, 20]
        p.repeated.n_trials = 1000
        p.n_boot = 200
        p.retrieval.n_identities = 20
        return p


# task of each trial group (``TrialSet.meta(key)["task"]``) -> protocol task name
TRIAL_TASK = {
    "match": "match",
    "verify": "verify",
    "retrieve": "retrieve",
    "joint_match": "joint",
    "joint_retrieve": "joint",
}


def trial_tasks(trials: TrialSet) -> list[str]:
    """Protocol tasks a trial set holds, in :data:`TASKS` order."""
    held = {TRIAL_TASK.get(str(trials.meta(k).get("task")), "") for k in trials.keys()}
    return [t for t in TASKS if t in held]


def protocol_for_trials(
    protocol: Protocol, trials: TrialSet, explicit_tasks: bool = False
) -> tuple[Protocol, TrialSet]:
    """Protocol and trial groups to run when the user brings a trial file.

    Without ``explicit_tasks`` the run does exactly the tasks the file holds (never the
    repeated random test sets over the whole embedding set, which ignore the file). With
    them, the file's groups are filtered to those tasks, and ``repeated`` runs if named.
    Groups of a direction not in ``protocol.directions`` are left out either way.
    """
    p = copy.deepcopy(protocol)
    if not explicit_tasks:
        p.tasks = trial_tasks(trials)
    keep = [
        k
        for k in trials.keys()
        if TRIAL_TASK.get(str(trials.meta(k).get("task")), "") in p.tasks
        and str(trials.meta(k).get("direction", "v2f")) in p.directions
    ]
    if not keep and "repeated" not in p.tasks:
        raise EvaluationError(
            f"the trial file holds tasks {trial_tasks(trials)} in directions "
            f"{sorted({str(trials.meta(k).get('direction')) for k in trials.keys()})}; "
            f"none is asked (tasks={p.tasks}, directions={p.directions})"
        )
    return p, (trials if keep == trials.keys() else trials.subset(keep))
