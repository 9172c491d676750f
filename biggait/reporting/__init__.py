"""Result tables, figures, metric checks and GPU picking for the Snakemake workflow.

``specs`` says what each table holds, ``collect`` gathers evaluate's metrics, ``tables`` and
``render`` write the tables, ``figures`` draws the figures, ``gpu`` picks a free GPU per job.
"""
