"""The benchmark harness, in the order a run uses it: ``bake`` (bake and install the service),
``serve`` (start a variant under Hypercorn, check its answers, sample its CPU and memory),
``load`` (wrk against it, in rounds or paired slices), ``profile`` (py-spy) and ``report``
(medians, ratios, the table and the JSON). ``cells`` says what is measured; ``bench/run.py`` is
the command line."""
