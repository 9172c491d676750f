"""Reporting: the result tables, figures, the metric check and the DAG's preflight (the plan itself is biggait.plan).

``specs`` says what each table holds, ``cells`` / ``tables`` / ``render`` build and write the tables
from the metrics files (:mod:`biggait.evaluation.metrics_files`), ``figures`` (with ``fig_maps``,
``fig_results``) draws the figures, ``check_metrics`` compares metrics with a baseline or the paper,
``preflight`` checks which tables of the Snakemake DAG can run, and ``cli`` holds ``biggait tables / figures /
check-metrics``.
"""
