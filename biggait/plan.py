"""The workflow's plan: the Snakemake config of one run read against the tables, the experiments and the
repository, and what the DAG builds from it.

``workflow/rules/common.smk`` builds one :class:`WorkflowPlan` at parse time and takes from it the data
location of each dataset, the upstream checkpoint of each experiment, the inputs of each table, the
shared evaluation jobs, the upstream table's evaluations, the claims' evaluations and the figures
reproduce_all draws. Which tables run is the preflight's answer
(:func:`biggait.reporting.preflight.run_tables`: at paper scale, tables whose inputs are missing stop
the DAG or are skipped); the methods that depend on it take it as ``run_tables``. Paths below the
results folder come from :mod:`biggait.paths`.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from biggait import paths
from biggait.config import Experiment, load_experiment, scale_paths
from biggait.errors import BigGaitError, ConfigError
from biggait.reporting.specs import EFFICIENCY, GROUP_EXPERIMENT, TABLES, UPSTREAM_EXPERIMENTS
from biggait.standins import standin_path

# The figures drawn per evaluation of config figures.heatmap_evaluations (rules in figures.smk).
EVALUATION_FIGURES = ("views", "per_view_rank1", "cmc", "embeddings")
PAD_RESIZE_DATASETS = ("sustech1k", "casiab")  # the Pad-and-Resize figure: the first of these evaluated


def coerce_cli_values(cfg: dict) -> None:
    """`--config only_available=true seeds=[0,1]` arrives as strings; make them booleans / ints (in place)."""
    for key in ("only_available", "synthgait"):
        if isinstance(cfg.get(key), str) and cfg[key].lower() in ("true", "false", "1", "0", "yes", "no"):
            cfg[key] = cfg[key].lower() in ("true", "1", "yes")
    if isinstance(cfg.get("gpus_per_job"), str) and cfg["gpus_per_job"].isdigit():
        cfg["gpus_per_job"] = int(cfg["gpus_per_job"])

    def ints(values: list) -> list:
        return [int(x) if isinstance(x, str) and x.isdigit() else x for x in values]

    if isinstance(cfg.get("seeds"), list):
        cfg["seeds"] = ints(cfg["seeds"])
    if isinstance(cfg.get("table_seeds"), dict):
        cfg["table_seeds"] = {t: ints(v) if isinstance(v, list) else v for t, v in cfg["table_seeds"].items()}
    for key in ("tables", "experiments", "seeds"):  # a single value given on the command line
        if isinstance(cfg.get(key), (str, int)) and not isinstance(cfg.get(key), bool):
            cfg[key] = [cfg[key]]


class WorkflowPlan:
    """The validated workflow config of one Snakemake run, resolved against the repository."""

    def __init__(self, config: dict, repo: Path) -> None:
        self.config = config
        self.repo = Path(repo)
        self.scale = config["scale"]
        self.seeds = list(config["seeds"])
        self.results = self._as_output(self.repo_path(config["results"]))
        # Data and checkpoint paths: the scale overlay's (config/scales/<scale>.yaml, their one home), with the
        # entries a DAG config's roots / partitions / lvm_checkpoints give (relative to the repository root).
        self.paths = scale_paths(self.scale).overridden(
            **{
                key: {k: str(self.repo_path(v)) for k, v in (config.get(key) or {}).items()}
                for key in ("roots", "partitions", "lvm_checkpoints")
            }
        )

    def repo_path(self, p: str | Path) -> Path:
        """A config path: absolute as given, relative ones against the repository root."""
        p = Path(os.path.expanduser(str(p)))
        return p if p.is_absolute() else self.repo / p

    @staticmethod
    def _as_output(p: Path) -> str:
        """Output paths relative to the working directory when below it (nicer targets and logs)."""
        try:
            return str(p.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(p.resolve())

    def experiment_file(self, name: str) -> Path:
        return self.repo / "config" / "experiments" / f"{name}.yaml"

    @functools.cache  # noqa: B019 -- one plan per Snakemake run; caching its experiments is the point
    def experiment(self, name: str) -> Experiment:
        """The resolved experiment of config/experiments/<name>.yaml at the configured scale."""
        try:
            return load_experiment(self.experiment_file(name), scale=self.scale)
        except BigGaitError as exc:
            raise ConfigError(f"experiment {name}: {exc}") from None

    # ---- what the tables need ----------------------------------------------------------------------------

    def table_evaluations(self, table: str) -> list[tuple[str, str]]:
        """(experiment, test dataset) pairs an accuracy table needs."""
        return [(e, t) for e, t in TABLES[table].evaluations() if self._chosen(e)]

    def _chosen(self, exp: str) -> bool:
        """Whether config ``experiments`` (empty: every one) keeps ``exp``."""
        return not self.config["experiments"] or exp in self.config["experiments"]

    def table_experiments(self, table: str) -> list[str]:
        return list(dict.fromkeys(e for e, _ in self.table_evaluations(table)))

    def table_inputs(self, table: str) -> list[str]:
        """The metrics files an accuracy table is built from."""
        r = self.results
        return [
            paths.metrics_file(r, e, s, t) for e, t in self.table_evaluations(table) for s in self.table_seeds(table)
        ]

    def train_seeds(self, exp: str, tables: list[str]) -> list[int]:
        """Seeds ``exp`` is trained with for ``tables`` (the accuracy tables among them that hold it)."""
        return sorted(
            {s for t in self.accuracy_tables(tables) if exp in self.table_experiments(t) for s in self.table_seeds(t)}
        )

    # ---- the efficiency table (its own spec, specs.EFFICIENCY, and rule) -----------------------------------

    def efficiency_experiments(self) -> list[str]:
        """The efficiency table's experiments that config ``experiments`` keeps."""
        return [e for e in EFFICIENCY.experiments() if self._chosen(e)]

    def efficiency_inputs(self) -> list[str]:
        """The ``biggait efficiency --json`` files of the efficiency table's rows."""
        return [paths.efficiency_file(self.results, e) for e in self.efficiency_experiments()]

    def efficiency_train_jobs(
        self, run_tables: list[str], groups: list[tuple[str, list[tuple[str, int]]]]
    ) -> list[tuple[str, list[str]]]:
        """The efficiency table's training benchmark files (wall time, peak memory), each with the models its
        job trained (``<exp>_seed<k>``): those of its rows' trainings that ``run_tables`` run anyway (the
        table never starts a training of its own), a shared job's (``groups``: :meth:`train_groups`) once."""
        shared = {m: name for name, members in groups for m in members}
        jobs: dict[str, list[str]] = {}
        for e in self.efficiency_experiments():
            for s in self.train_seeds(e, run_tables):
                name = shared.get((e, s))
                if name is None:
                    jobs[paths.benchmark_file(self.results, paths.train_job(e, s))] = [paths.model_name(e, s)]
                else:
                    members = dict(groups)[name]
                    jobs[paths.benchmark_file(self.results, paths.shared_train_job(name))] = [
                        paths.model_name(me, ms) for me, ms in members
                    ]
        return list(jobs.items())

    def efficiency_eval_benchmarks(
        self, run_tables: list[str], groups: list[tuple[str, str, list[tuple[str, int]]]]
    ) -> list[tuple[str, list[str]]]:
        """The efficiency table's evaluation benchmark files, each with every model its job evaluated
        (``<exp>_seed<k>``): the shared jobs (``groups``: :meth:`evaluation_groups` of ``run_tables``) that
        evaluate its rows' trainings (:meth:`efficiency_train_jobs`) on their training set."""
        chosen = set(self.efficiency_experiments())
        wanted = {
            (row.experiment, s, row.train)
            for row in EFFICIENCY.rows
            if row.experiment in chosen
            for s in self.train_seeds(row.experiment, run_tables)
        }
        return [
            (
                paths.benchmark_file(self.results, paths.shared_evaluate_job(name)),
                [paths.model_name(e, s) for e, s in members],
            )
            for name, test, members in groups
            if any((e, s, test) in wanted for e, s in members)
        ]

    def table_seeds(self, table: str) -> list[int]:
        """Seeds of a table: config ``table_seeds[table]``, else ``seeds``."""
        return list((self.config.get("table_seeds") or {}).get(table, self.seeds))

    def evaluation_seeds(self, exp: str, test: str, tables: list[str]) -> list[int]:
        """Seeds an evaluation is run with: the union over the given tables that hold it."""
        seeds = {s for t in tables if (exp, test) in self.table_evaluations(t) for s in self.table_seeds(t)}
        return sorted(seeds)

    # ---- data and checkpoints --------------------------------------------------------------------------

    def dataset_root(self, ds: str) -> str:
        if self.config["synthgait"]:
            return paths.synthgait_root(self.results, ds)
        if ds not in self.paths.roots:
            raise ConfigError(f"{self.paths.source}: roots: no root for dataset {ds!r} (add roots: {{{ds}: PATH}})")
        return self.paths.roots[ds]

    def dataset_partition(self, ds: str) -> str:
        if self.config["synthgait"]:
            return paths.synthgait_partition(self.results, ds)
        if ds not in self.paths.partitions:
            raise ConfigError(
                f"{self.paths.source}: partitions: no partition for dataset {ds!r} (add partitions: {{{ds}: PATH}})"
            )
        return self.paths.partitions[ds]

    def lvm_checkpoint(self, exp_name: str) -> str:
        """The upstream weights an experiment needs: the official DINOv2 file, the demo's pretrained
        tiny stand-in (config ``pretrain_lvm``: shipped in standins/, or pretrained by the DAG), or '' (the tiny
        random ViT, the random-upstream
        ablation ``model.lvm_random``, the GaitBase baseline)."""
        exp = self.experiment(exp_name)
        if exp.model.arch == "gaitbase" or exp.model.lvm_random:
            return ""
        if exp.model.lvm_tiny:  # the demo: the released stand-in (standins/), or the DAG's own pretraining
            if not self.config.get("pretrain_lvm"):
                return ""
            if self.pretrains_lvm():
                return paths.pretrained_lvm(self.results, exp.model.lvm)
            return str(standin_path(exp.model.lvm))
        # a DAG config's lvm_checkpoints entry, else the experiment's own (filled from the overlay when empty)
        override = (self.config.get("lvm_checkpoints") or {}).get(exp.model.lvm)
        return str(self.repo_path(override)) if override else exp.model.lvm_checkpoint

    def pretrains_lvm(self) -> bool:
        """Whether the DAG pretrains the tiny stand-ins itself (``pretrain_lvm.source: pretrain``, the default
        while the committed baseline is the one made that way) instead of loading the released ones
        (``source: shipped``)."""
        opts = self.config.get("pretrain_lvm")
        return bool(opts) and opts.get("source", "pretrain") == "pretrain"

    def train_sets(self, exp: str, seed: object) -> list[str]:
        """The --set overrides of one training: seed, data location, checkpoint, config `set`."""
        ds = self.experiment(exp).data.dataset
        sets = [
            f"train.seed={seed}",
            f"data.root={self.dataset_root(ds)}",
            f"data.partition={self.dataset_partition(ds)}",
        ]
        ckpt = self.lvm_checkpoint(exp)
        if ckpt:
            sets.append(f"model.lvm_checkpoint={ckpt}")
        return sets + list(self.config["set"])

    # ---- the upstream table (demo) -----------------------------------------------------------------------

    def upstream_report(self) -> bool:
        """Whether the DAG builds ``tables/upstream.{csv,md}`` (random vs pretrained upstream): only when the
        config pretrains the upstream (``pretrain_lvm``: demo, CI) and its experiments filter keeps all three
        experiments the table compares."""
        chosen = self.config["experiments"]
        return bool(self.config.get("pretrain_lvm")) and (not chosen or set(UPSTREAM_EXPERIMENTS) <= set(chosen))

    def upstream_evaluations(self) -> list[tuple[str, int]]:
        """(experiment, seed) evaluated on CCPG for the upstream table: the random upstream with the first
        seed of the CCPG table, BigGait and GaitBase with every seed of the CCPG table."""
        seeds = self.table_seeds("ccpg")
        random_exp, *others = UPSTREAM_EXPERIMENTS
        return [(random_exp, seeds[0])] + [(e, s) for e in others for s in seeds]

    # ---- shared evaluation ------------------------------------------------------------------------------

    def evaluations(self, tables: list[str]) -> list[tuple[str, int, str]]:
        """(experiment, seed, test) of every evaluation the given tables and the upstream table read."""
        out = [
            (e, s, t)
            for tb in self.accuracy_tables(tables)
            for e, t in self.table_evaluations(tb)
            for s in self.table_seeds(tb)
        ]
        if self.upstream_report():
            out += [(e, s, "ccpg") for e, s in self.upstream_evaluations()]
        return list(dict.fromkeys(out))

    def upstream_key(self, exp_name: str, seed: int) -> tuple:
        """What a model's test-time upstream maps depend on, as far as the config tells: models with equal
        keys are evaluated together (``biggait evaluate`` then checks the weights and shares the forward)."""
        exp = self.experiment(exp_name)
        m = exp.model
        if m.arch != "biggait":
            return exp.test_pass(), m.upstream_signature()
        weights = self.lvm_checkpoint(exp_name) if not m.lvm_random else ""
        return exp.test_pass(), m.upstream_signature(), weights or f"random, seed {seed}"

    def evaluation_groups(self, tables: list[str], size: int) -> list[tuple[str, str, list[tuple[str, int]]]]:
        """The evaluations of ``tables`` as jobs of at most ``size`` models: ``(name, test, [(exp, seed)])``,
        each job's models sharing one test set and one upstream (:meth:`upstream_key`), in table order."""
        by_key: dict[tuple, list[tuple[str, int]]] = {}
        for e, s, t in self.evaluations(tables):
            by_key.setdefault((t, self.upstream_key(e, s)), []).append((e, s))
        groups, count = [], {}
        for (test, _), members in by_key.items():
            for i in range(0, len(members), size):
                count[test] = count.get(test, 0) + 1
                groups.append((f"{test}_{count[test]}", test, members[i : i + size]))
        return groups

    def trainings(self, tables: list[str]) -> list[tuple[str, int]]:
        """(experiment, seed) of every model the evaluations of ``tables`` (and the upstream table) read."""
        return list(dict.fromkeys((e, s) for e, s, _ in self.evaluations(tables)))

    def train_groups(self, tables: list[str], size: int) -> list[tuple[str, list[tuple[str, int]]]]:
        """The trainings of ``tables`` that share a process (config ``train_group_size``): ``(name, [(exp,
        seed)])`` in chunks of at most ``size`` (a chunk of one is left to the per-model rule). An efficiency
        table row's seeds share a job only with each other (``<exp>_<k>``), so that job's wall time divided by
        its models is each one's training time; the other trainings share one with those that read the same
        LVM file (``<variant>_<k>``, ``no_lvm_<k>``), so that a job waits for no other upstream."""
        rows = set(self.efficiency_experiments())
        keyed: dict[str, list[tuple[str, int]]] = {}
        for e, s in self.trainings(tables):
            lvm = self.experiment(e).model.lvm if self.lvm_checkpoint(e) else "no_lvm"
            keyed.setdefault(e if e in rows else f"lvm:{lvm}", []).append((e, s))
        groups = []
        for key, members in keyed.items():
            chunks = [members[i : i + size] for i in range(0, len(members), max(1, size))]
            for k, chunk in enumerate(c for c in chunks if len(c) > 1):
                groups.append((f"{key.removeprefix('lvm:')}_{k + 1}", chunk))
        return groups

    # ---- what the run builds beyond the tables ------------------------------------------------------------

    @staticmethod
    def accuracy_tables(run_tables: list[str]) -> list[str]:
        """The accuracy tables among ``run_tables`` (the efficiency table trains and evaluates nothing; its
        inputs are the ``efficiency_*`` methods)."""
        return [t for t in run_tables if t in TABLES]

    def run_experiments(self, run_tables: list[str]) -> list[str]:
        """Trained experiments of the tables that run, in table order."""
        return list(dict.fromkeys(e for t in self.accuracy_tables(run_tables) for e in self.table_experiments(t)))

    def run_evaluations(self, run_tables: list[str]) -> set[tuple[str, str]]:
        """(experiment, test) evaluations of the tables that run."""
        return {(e, t) for tb in self.accuracy_tables(run_tables) for e, t in self.table_evaluations(tb)}

    def all_seeds(self, run_tables: list[str]) -> list[int]:
        """Every seed a table of the run reads."""
        return sorted({s for t in run_tables for s in self.table_seeds(t)})

    def claims_evaluations(self, claimed: list[tuple[str, str]], run_tables: list[str]) -> list[tuple[str, str]]:
        """The (experiment, test) evaluations the claims read (``claimed``:
        :func:`biggait.reporting.claims_config.claim_evaluations`) that the run's tables make; a claim
        whose cells are not run reads "not run"."""
        run = {ev for t in self.accuracy_tables(run_tables) for ev in self.table_evaluations(t)}
        return [ev for ev in claimed if ev in run]

    def claim_seeds(self, exp: str, test: str, run_tables: list[str]) -> list[int]:
        return self.evaluation_seeds(exp, test, self.accuracy_tables(run_tables))

    def figure_seed(self) -> int:
        """The seed whose runs the per-model figures show."""
        return self.seeds[0]

    def group_evaluations(self, run_tables: list[str]) -> list[tuple[str, int, str]]:
        """(experiment, seed, test) whose layer groups are scored one by one (BiggerGait Figure 5(c),
        ``biggait evaluate-groups``): every evaluation of :data:`~biggait.reporting.specs.GROUP_EXPERIMENT`
        that the run's tables make."""
        return [ev for ev in self.evaluations(self.accuracy_tables(run_tables)) if ev[0] == GROUP_EXPERIMENT]

    def gpu_memory_lines(self, run_tables: list[str]) -> list[str]:
        """For each BiggerGait experiment the run trains: its training step's GPU memory at its batch, an
        analytic ESTIMATE (:mod:`biggait.models.biggergait_memory`, no GPU measured it), and the 80 GB GPUs it
        needs. Builds each model on PyTorch's meta device (no memory, no weights) to count its parameters."""
        import torch

        from biggait.models.biggait import build_model
        from biggait.models.biggergait_memory import gpus_needed, step_gib

        lines = []
        for name in self.run_experiments(run_tables):
            exp = self.experiment(name)
            if exp.model.arch != "biggergait":
                continue
            with torch.device("meta"):
                model = build_model(exp.model, 100, load_lvm=False)
            shape = dict(
                groups=model.groups,
                width=model.lvm.embed_dim,
                depth=model.lvm.depth,
                layers_per_group=exp.model.biggergait.layers_per_group,
                hidden=exp.model.biggergait.hidden_dim,
                map_dim=exp.model.biggergait.map_dim,
                channels=tuple(exp.model.channels),
                image_size=exp.model.image_size,
                patch=exp.model.lvm_patch,
            )
            params = (
                sum(p.numel() for p in model.trainable_parameters()),
                sum(p.numel() for p in model.lvm.parameters()),
            )
            frames = exp.data.batch_p * exp.data.batch_k * exp.data.frames_per_seq
            n = gpus_needed(frames, *params, **shape)
            one, each = step_gib(frames, *params, **shape), step_gib(-(-frames // n), *params, **shape)
            lines.append(
                f"{name}: a training step of {frames} frames needs ~{one:.0f} GiB on one GPU (an estimate, "
                f"docs/biggergait.md); {n} x 80 GB GPU(s): ~{each:.0f} GiB each"
            )
        return lines

    def figure_targets(self, run_tables: list[str]) -> list[str]:
        """Every figure reproduce_all draws (``.png``; each rule writes the ``.pdf`` beside it), given the
        tables that run: the bars of each accuracy table, the training curves, the Pad-and-Resize crop,
        the maps of config ``figures.maps_experiments`` and the per-evaluation figures of
        ``figures.heatmap_evaluations``, each only when the run trains / evaluates what it shows."""
        fig = functools.partial(paths.figure, self.results)
        out = [fig(f"bars_{t}") for t in self.accuracy_tables(run_tables)]
        experiments, evaluations = self.run_experiments(run_tables), self.run_evaluations(run_tables)
        if experiments:
            out.append(fig("training_curves"))
        pad_ds = next((d for d in PAD_RESIZE_DATASETS if any(t == d for _, t in evaluations)), None)
        if pad_ds:
            out.append(fig(f"pad_and_resize_{pad_ds}"))
        for e in self.config["figures"]["maps_experiments"]:
            if e in experiments and self.experiment(e).model.arch == "biggait":
                out += [fig(f"masks_{e}"), fig(f"pca_{e}")]
        for item in self.config["figures"]["heatmap_evaluations"]:
            e, t = item.split(":")
            if (e, t) in evaluations:
                out += [fig(f"{kind}_{e}_{t}") for kind in EVALUATION_FIGURES]
        if self.group_evaluations(run_tables):
            out.append(fig(f"groups_{GROUP_EXPERIMENT}"))
        return [f"{f}.png" for f in out]
