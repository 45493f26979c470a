"""The paper's evaluation as an experiments suite (docs/experiments.md).

``simulate`` runs one configuration; ``runner`` and ``cache`` run sets of them
(cached, on local processes or a Dask cluster); one module per figure or table
(``fig5`` ... ``table3``) says which runs it needs and summarises them;
``suite`` runs experiments and sweeps; ``report`` writes the HTML report.
"""
