"""Sweeps: one experiment file with a ``sweep`` block becomes a grid of ordinary runs, aggregated per grid point.

    spec.py        the ``sweep`` block: parse, validate (BadInput naming the field), expand into trials
    plan.py        ``sweep plan``: the trials a file expands to, before anything runs (+ each one's estimated peak)
    trials.py      Trial (one run of the grid) and run_trial (one trial, in any process); the Backend interface
    store.py       the sweep folder: manifest.json (grid, trials, their state) and the driver's copy of trial runs
    aggregate.py   mean and std over seeds per grid point, GLUE average, Pareto front of score vs peak memory
    local.py       the backend that runs trials one after another in this process (no Ray)
    ray_backend.py the backend on Ray Tune (local Ray on 127.0.0.1, dashboard off, or --ray-address)
    asha.py        early stopping of hopeless trials on Ray: Ray Tune's ASHAScheduler, its stops carried out as stops

Nothing here is imported by ``run`` or ``compare``: Ray is an optional extra (``ladderlab[sweep]``).
"""
